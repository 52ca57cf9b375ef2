package dev.splitrt.codec;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.splitrt.codec.FeatureFrameException.Reason;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Strict FeatureFrame decoder (versions 1, 2 and 3) for messages from the network, which may be
 * forged. Every length and bound is checked before anything is allocated, the CRC before the
 * payload is touched, and a DEFLATE or zstd payload is decompressed into a buffer of exactly the
 * size the shape implies, so a message can never make the tail allocate more than its
 * {@code maxElements} budget. The rules and their order are in {@code runtime/docs/feature-frame-v3.md}.
 * Thread-safe; compressed frames share one reused decompressor per kind under a lock, so give each
 * busy consumer thread its own decoder.
 */
public final class FeatureDecoder {
  private static final Cleaner CLEANER = Cleaner.create();
  /** zstd.h: ZSTD_CONTENTSIZE_UNKNOWN (0ULL - 1) and ZSTD_CONTENTSIZE_ERROR (0ULL - 2). */
  private static final long ZSTD_CONTENTSIZE_UNKNOWN = -1L;
  private static final long ZSTD_CONTENTSIZE_ERROR = -2L;
  private final int maxElements;
  private final Inflater inflater = new Inflater(false);
  private final byte[] probe = new byte[1];
  private final Object zstdLock = new Object();
  private ZstdDecompressCtx zstd;

  /** @param maxElements the largest element count accepted, e.g. the model's bottleneck size */
  public FeatureDecoder(int maxElements) {
    if (maxElements < 1) {
      throw new IllegalArgumentException("FeatureDecoder maxElements = " + maxElements + "; must be >= 1");
    }
    this.maxElements = maxElements;
  }

  public FeatureFrame decode(byte[] m) throws FeatureFrameException {
    // 1. magic, version
    FrameReading.magic(m);
    int version = Wire.u8(m, 4);
    if (version < Wire.VERSION || version > Wire.VERSION_3) {
      throw new FeatureFrameException(Reason.UNSUPPORTED_VERSION, "version " + version
          + "; this decoder reads versions " + Wire.VERSION + ", " + Wire.VERSION_2 + " and " + Wire.VERSION_3);
    }
    int epochBytes = version >= Wire.VERSION_3 ? Wire.EPOCH_BYTES : 0;
    // 2. header fields in order; each bound checked as it is read, nothing allocated
    FrameReading.Ids ids = FrameReading.ids(m, version);
    int p = ids.hashOffset();
    int hashOff = p;
    need(m, p, Wire.HASH_BYTES + epochBytes + 20 + 6, epochBytes == 0
        ? "head hash, sequence, timestamp, source size and codec bytes"
        : "head hash, sequence, epoch, timestamp, source size and codec bytes");
    long epoch = 0;
    if (epochBytes != 0) {
      epoch = Wire.u32(m, p + Wire.HASH_BYTES + 8);
      if (epoch == 0) bad(p + Wire.HASH_BYTES + 8, "epoch 0 in a version-3 frame; v3 carries an epoch >= 1 "
          + "(a frame without one is written as version 1 or 2)");
    }
    p += Wire.HASH_BYTES + epochBytes + 16;
    FrameReading.sourceSize(m, p);
    int sourceWidth = Wire.u16(m, p);
    int sourceHeight = Wire.u16(m, p + 2);
    p += 4;
    int dtype = Wire.u8(m, p);
    if (dtype != Wire.DTYPE_FLOAT32) bad(p, "dtype " + dtype + "; v" + version + " defines only 1 (float32)");
    int bits = Wire.u8(m, p + 1);
    if (bits != 2 && bits != 4 && bits != 6 && bits != 8) bad(p + 1, "bits " + bits + "; allowed 2, 4, 6, 8");
    int gran = Wire.u8(m, p + 2);
    if (version == 1 && (gran == 2 || gran == 3)) {
      bad(p + 2, "granularity " + gran + " (three-range) needs version 2; a v1 frame allows 0 (per tensor), 1 (per channel)");
    }
    if (gran > 3) {
      bad(p + 2, "granularity " + gran + "; allowed 0 (per tensor), 1 (per channel), 2 (three-range), "
          + "3 (three-range per channel)");
    }
    int sym = Wire.u8(m, p + 3);
    if (sym > 1) bad(p + 3, "symmetric " + sym + "; allowed 0, 1");
    if (sym == 1 && gran >= 2) bad(p + 3, "symmetric 1 with three-range granularity " + gran + "; three-range frames are asymmetric (0)");
    int entropyId = Wire.u8(m, p + 4);
    if (version == 1 && entropyId == 2) {
      bad(p + 4, "entropy 2 (zstd) needs version 2; a v1 frame allows 0 (none), 1 (deflate)");
    }
    if (entropyId > 2) bad(p + 4, "entropy " + entropyId + "; allowed 0 (none), 1 (deflate), 2 (zstd)");
    int rank = Wire.u8(m, p + 5);
    if (rank < 1 || rank > Wire.MAX_RANK) bad(p + 5, "rank " + rank + "; allowed 1.." + Wire.MAX_RANK);
    p += 6;
    long[] dims = FrameReading.dims(m, p, rank, maxElements);
    long n = FrameReading.elements(dims);
    Granularity granularity = Granularity.values()[gran];
    if (granularity.perChannel() && rank < 2) {
      bad(p - 1, "per-channel frame has rank 1; per-channel needs axis 1 (rank >= 2)");
    }
    p += 4 * rank;
    need(m, p, 4, "parameter count");
    long params = Wire.u32(m, p);
    int ranges = granularity.ranges();
    long expectParams = (granularity.perChannel() ? dims[1] : 1) * ranges;
    if (params != expectParams) {
      String per = ranges == 3 ? " three-range" : "";
      bad(p, "parameter count " + params + " but " + (!granularity.perChannel()
          ? "a" + per + " per-tensor frame has " + ranges : "per-channel" + per + " dims " + Arrays.toString(dims)
          + " have " + dims[1] + " channels (axis 1)" + (ranges == 3 ? " x 3 ranges = " + expectParams : "")));
    }
    p += 4;
    int paramsOff = p;
    int levelsOff = p + 8 * (int) params;
    long paramBytes = (ranges == 3 ? 10L : 8L) * params;
    need(m, p, paramBytes + 4, ranges == 3 ? "quantization parameters, range levels and payload length"
        : "quantization parameters and payload length");
    p += (int) paramBytes;
    long payloadLen = Wire.u32(m, p);
    int packedLen = (int) Wire.packedBytes(n, bits);
    Entropy entropy = Entropy.values()[entropyId];
    if (entropy == Entropy.NONE && payloadLen != packedLen) {
      bad(p, "payload length " + payloadLen + " but dims " + Arrays.toString(dims) + " at " + bits
          + " bits pack into " + packedLen + " bytes");
    }
    if (entropy != Entropy.NONE && payloadLen < 1) bad(p, "payload length 0 for a " + entropy + " frame");
    p += 4;
    int payloadOff = p;
    // 3. length, then CRC-32C over everything before it
    FrameReading.lengthAndCrc(m, payloadOff, payloadLen);
    // 4. values that need no framing: ids, quantization parameters
    String deviceId = FrameReading.id(m, ids.deviceOffset(), ids.deviceLength(), "device id");
    String modelId = FrameReading.id(m, ids.modelOffset(), ids.modelLength(), "model id");
    byte[] hash = Arrays.copyOfRange(m, hashOff, hashOff + Wire.HASH_BYTES);
    long sequence = Wire.u64(m, hashOff + Wire.HASH_BYTES);
    long capture = Wire.u64(m, hashOff + Wire.HASH_BYTES + 8 + epochBytes);
    int groups = (int) params;
    float[] scales = new float[groups];
    float[] zeroPoints = new float[groups];
    int[] levels = new int[ranges == 3 ? groups : 0];
    for (int g = 0; g < levels.length; g += 3) {
      int off = levelsOff + 2 * g;
      int l0 = Wire.u16(m, off);
      int l1 = Wire.u16(m, off + 2);
      int l2 = Wire.u16(m, off + 4);
      if (l0 + l1 + l2 != 1 << bits) {
        bad(off, "levels " + l0 + ", " + l1 + ", " + l2 + " of group " + g / 3 + " sum to " + (l0 + l1 + l2)
            + "; the three ranges of a group must share exactly 2^" + bits + " = " + (1 << bits) + " codes");
      }
      levels[g] = l0;
      levels[g + 1] = l1;
      levels[g + 2] = l2;
    }
    for (int c = 0; c < groups; c++) {
      int off = paramsOff + 8 * c;
      float s = Wire.f32(m, off);
      float z = Wire.f32(m, off + 4);
      if (!(Float.isFinite(s) && s > 0f)) bad(off, "scale[" + c + "] = " + s + "; must be finite and > 0");
      if (!Float.isFinite(z)) bad(off + 4, "zero point[" + c + "] = " + z + "; must be finite");
      if (sym == 1 && z != 0f) bad(off + 4, "zero point[" + c + "] = " + z + " in a symmetric frame; must be 0");
      scales[c] = s;
      zeroPoints[c] = z;
    }
    // 5. payload
    byte[] packed;
    if (entropy == Entropy.NONE) {
      packed = Arrays.copyOfRange(m, payloadOff, payloadOff + packedLen);
    } else if (entropy == Entropy.ZSTD) {
      packed = unzstd(m, payloadOff, (int) payloadLen, packedLen, dims, bits);
    } else {
      if (packedLen > Wire.MAX_DEFLATE_RATIO * payloadLen) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "a DEFLATE payload of " + payloadLen
            + " bytes cannot inflate to the " + packedLen + " bytes that dims " + Arrays.toString(dims) + " at " + bits
            + " bits need (DEFLATE expands at most " + Wire.MAX_DEFLATE_RATIO + ":1)");
      }
      packed = inflate(m, payloadOff, (int) payloadLen, packedLen);
    }
    int usedBits = (int) ((n * bits) % 8);
    if (usedBits != 0 && (packed[packedLen - 1] & 0xFF) >>> usedBits != 0) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, String.format(
          "padding bits of the last packed byte (0x%02x) are not zero; only its low %d bits hold codes",
          packed[packedLen - 1] & 0xFF, usedBits));
    }
    int[] shape = new int[rank];
    for (int k = 0; k < rank; k++) shape[k] = (int) dims[k];
    FrameHeader header = new FrameHeader(deviceId, modelId, hash, sequence, capture, sourceWidth, sourceHeight,
        epoch);
    return new FeatureFrame(header, shape, new CodecSpec(bits, granularity, sym == 1, entropy), scales, zeroPoints,
        packed, levels);
  }

  /**
   * Decompresses exactly one zstd frame into exactly {@code expected} bytes. Before anything is
   * allocated the frame header must declare that content size and the frame must end exactly at the
   * end of the payload (both read from headers only); the one-shot decompression then writes into a
   * buffer of that size and cannot produce more, so a zstd bomb costs nothing.
   */
  private byte[] unzstd(byte[] m, int off, int len, int expected, long[] dims, int bits) throws FeatureFrameException {
    String what = "dims " + Arrays.toString(dims) + " at " + bits + " bits";
    try {
      long declared = Zstd.getFrameContentSize(m, off, len);
      if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload " + (declared == ZSTD_CONTENTSIZE_ERROR
            ? "does not start with a valid zstd frame header" : "does not declare its content size")
            + "; a FeatureFrame zstd payload is one frame that declares the " + expected + " bytes " + what + " need");
      }
      if (declared != expected) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd frame declares " + Long.toUnsignedString(declared)
            + " bytes of content but " + what + " need " + expected);
      }
      long frame;
      try {
        frame = Zstd.findFrameCompressedSize(m, off, len);
      } catch (ZstdException e) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload of " + len + " bytes is not one complete zstd "
            + "frame: " + e.getMessage());
      }
      if (Zstd.isError(frame)) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload of " + len + " bytes is not one complete zstd "
            + "frame: " + Zstd.getErrorName(frame));
      }
      if (frame != len) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, (len - frame) + " bytes of the " + len
            + "-byte zstd payload follow the end of the zstd frame");
      }
    } catch (ZstdException e) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload is not a valid zstd frame: " + e.getMessage());
    }
    byte[] out = new byte[expected];
    int got;
    synchronized (zstdLock) {
      try {
        if (zstd == null) {
          ZstdDecompressCtx ctx = new ZstdDecompressCtx();
          CLEANER.register(this, ctx::close); // the native context has no finalizer of its own
          zstd = ctx;
        }
        got = zstd.decompressByteArray(out, 0, expected, m, off, len);
      } catch (ZstdException e) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload does not decompress into the " + expected
            + " bytes " + what + " need: " + e.getMessage());
      }
    }
    if (got != expected) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, "zstd payload decompresses to only " + got + " of the "
          + expected + " bytes " + what + " need");
    }
    return out;
  }

  /** Inflates into exactly {@code expected} bytes; any other size, or trailing input, is BAD_PAYLOAD. */
  private byte[] inflate(byte[] m, int off, int len, int expected) throws FeatureFrameException {
    byte[] out = new byte[expected];
    synchronized (inflater) {
      inflater.reset();
      inflater.setInput(m, off, len);
      try {
        int got = 0;
        while (got < expected) {
          int r = inflater.inflate(out, got, expected - got);
          got += r;
          if (r == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) break;
        }
        if (got < expected) {
          throw new FeatureFrameException(Reason.BAD_PAYLOAD, "DEFLATE payload inflates to only " + got + " of the "
              + expected + " bytes the shape needs" + (inflater.needsDictionary() ? " (asks for a preset dictionary)"
              : inflater.finished() ? "" : " (stream is incomplete)"));
        }
        // Bounded probe: the stream must end here; one more byte of output means a bomb or a wrong shape.
        for (int k = 0; !inflater.finished(); k++) {
          if (inflater.inflate(probe, 0, 1) > 0) {
            throw new FeatureFrameException(Reason.BAD_PAYLOAD, "DEFLATE payload inflates to more than the "
                + expected + " bytes the shape needs (refused after " + expected + ")");
          }
          if (inflater.needsInput() || inflater.needsDictionary() || k > len) {
            throw new FeatureFrameException(Reason.BAD_PAYLOAD, "DEFLATE stream does not end after " + expected
                + " bytes of output (stream is incomplete)");
          }
        }
        if (inflater.getRemaining() != 0) {
          throw new FeatureFrameException(Reason.BAD_PAYLOAD, inflater.getRemaining()
              + " bytes of the " + len + "-byte DEFLATE payload follow the end of the zlib stream");
        }
      } catch (DataFormatException e) {
        throw new FeatureFrameException(Reason.BAD_PAYLOAD, "DEFLATE payload is not a valid zlib stream: "
            + e.getMessage());
      }
    }
    return out;
  }

  private static void need(byte[] m, int off, long count, String what) throws FeatureFrameException {
    FrameReading.need(m, off, count, what);
  }

  private static void bad(int off, String what) throws FeatureFrameException {
    FrameReading.bad(off, what);
  }
}

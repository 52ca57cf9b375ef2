package dev.splitrt.codec;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;
import java.util.zip.Deflater;

/**
 * Turns one head output into one FeatureFrame v1 message ({@code runtime/docs/feature-frame-v1.md}).
 * Built once per pipeline thread for a fixed codec and shape so that the per-frame path allocates
 * only the returned message: ranges, parameters, packed codes, the deflater and the CRC are reused.
 * Not thread-safe.
 *
 * <p>Non-finite input (NaN, +Inf, -Inf) is rejected with an {@link IllegalArgumentException} that
 * names the frame and the element; nothing is encoded and the encoder stays usable, so the edge can
 * count and drop the frame.
 */
public final class FeatureEncoder {
  private final CodecSpec spec;
  private final int[] shape;
  private final int elements;
  private final int paramCount;
  private final int outer;
  private final int inner;
  private final int packedBytes;
  private final int levels;
  private final int qmax;
  private final float[] lo;
  private final float[] hi;
  private final float[] scales;
  private final float[] zeroPoints;
  private final CRC32C crc = new CRC32C();
  private final Deflater deflater;
  private final byte[] packed;
  private byte[] deflated;

  public FeatureEncoder(CodecSpec spec, int[] shape) {
    this.spec = Objects.requireNonNull(spec, "FeatureEncoder spec is null");
    String p = Shapes.problem(shape, spec.granularity());
    if (p != null) throw new IllegalArgumentException("FeatureEncoder: " + p);
    this.shape = shape.clone();
    this.elements = Shapes.elementCount(shape);
    this.paramCount = Shapes.paramCount(shape, spec.granularity());
    this.outer = Shapes.outer(shape, spec.granularity());
    this.inner = Shapes.inner(shape, spec.granularity());
    long packedLong = Wire.packedBytes(elements, spec.bits());
    long maxMessage = packedLong + Wire.headerBytes(Wire.MAX_ID_BYTES, Wire.MAX_ID_BYTES, shape.length, paramCount)
        + Wire.CRC_BYTES;
    if (maxMessage > Integer.MAX_VALUE - 64) {
      throw new IllegalArgumentException("FeatureEncoder: shape " + Arrays.toString(shape) + " at " + spec.bits()
          + " bits packs into " + packedLong + " bytes; a message must stay below 2 GiB");
    }
    this.packedBytes = (int) packedLong;
    this.levels = (1 << spec.bits()) - 1;
    this.qmax = (1 << (spec.bits() - 1)) - 1;
    this.lo = new float[paramCount];
    this.hi = new float[paramCount];
    this.scales = new float[paramCount];
    this.zeroPoints = new float[paramCount];
    if (spec.entropy() == Entropy.DEFLATE) {
      this.deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, false);
      this.packed = new byte[packedBytes];
      // zlib's compressBound plus slack: one stored pass never needs more.
      this.deflated = new byte[packedBytes + (packedBytes >> 12) + (packedBytes >> 14) + 64];
    } else {
      this.deflater = null;
      this.packed = null;
    }
  }

  /**
   * Quantizes {@code values[0..n)} (absolute reads; position and limit untouched, limit must be
   * at least n) and returns the whole message, CRC included.
   *
   * @throws IllegalArgumentException if a value is NaN or infinite, or the buffer is too short
   */
  public byte[] encode(FrameHeader header, FloatBuffer values) {
    Objects.requireNonNull(header, "FeatureEncoder.encode header is null");
    Objects.requireNonNull(values, "FeatureEncoder.encode values is null");
    if (values.limit() < elements) {
      throw new IllegalArgumentException("FeatureEncoder.encode: values has limit " + values.limit() + " but shape "
          + Arrays.toString(shape) + " needs " + elements + " floats");
    }
    measure(header, values);
    computeParams(header);

    int devLen = header.deviceId().length();
    int modelLen = header.modelId().length();
    int headerBytes = Wire.headerBytes(devLen, modelLen, shape.length, paramCount);
    byte[] out;
    int payloadLen;
    if (deflater == null) {
      payloadLen = packedBytes;
      out = new byte[headerBytes + payloadLen + Wire.CRC_BYTES];
      pack(values, out, headerBytes);
    } else {
      pack(values, packed, 0);
      payloadLen = deflate();
      out = new byte[headerBytes + payloadLen + Wire.CRC_BYTES];
      System.arraycopy(deflated, 0, out, headerBytes, payloadLen);
    }
    writeHeader(out, header, payloadLen);
    int crcOff = headerBytes + payloadLen;
    crc.reset();
    crc.update(out, 0, crcOff);
    Wire.putU32(out, crcOff, (int) crc.getValue());
    return out;
  }

  /** Pass 1: per parameter group, min and max (asymmetric) or max |x| (symmetric); rejects non-finite. */
  private void measure(FrameHeader header, FloatBuffer values) {
    Arrays.fill(lo, Float.POSITIVE_INFINITY);
    Arrays.fill(hi, Float.NEGATIVE_INFINITY);
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int c = 0; c < paramCount; c++) {
        float mn = lo[c];
        float mx = hi[c];
        for (int end = i + inner; i < end; i++) {
          float v = values.get(i);
          if (!Float.isFinite(v)) throw nonFinite(header, i, v);
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        lo[c] = mn;
        hi[c] = mx;
      }
    }
  }

  private IllegalArgumentException nonFinite(FrameHeader h, int index, float v) {
    return new IllegalArgumentException("FeatureFrame device=" + h.deviceId() + " model=" + h.modelId() + " sequence="
        + Long.toUnsignedString(h.sequence()) + ": element " + index + " of shape " + Arrays.toString(shape) + " is "
        + v + "; the head produced a non-finite value, frame not encoded (check the head's precision/overflow)");
  }

  private void computeParams(FrameHeader h) {
    for (int c = 0; c < paramCount; c++) {
      float scale;
      if (spec.symmetric()) {
        float maxAbs = Math.max(Math.abs(lo[c]), Math.abs(hi[c]));
        scale = maxAbs == 0f ? 1f : maxAbs / qmax;
        zeroPoints[c] = 0f;
      } else {
        scale = hi[c] == lo[c] ? 1f : (hi[c] - lo[c]) / levels;
        zeroPoints[c] = lo[c];
      }
      if (!Float.isFinite(scale)) {
        throw new IllegalArgumentException("FeatureFrame device=" + h.deviceId() + " model=" + h.modelId()
            + " sequence=" + Long.toUnsignedString(h.sequence()) + ": value range [" + lo[c] + ", " + hi[c]
            + "] of parameter group " + c + " is too wide for a float32 scale; frame not encoded");
      }
      scales[c] = scale == 0f ? Float.MIN_VALUE : scale;
    }
  }

  /** Pass 2: quantize and pack LSB-first into {@code dst[off..off+packedBytes)}. */
  private void pack(FloatBuffer values, byte[] dst, int off) {
    final int bits = spec.bits();
    final boolean sym = spec.symmetric();
    int acc = 0;
    int accBits = 0;
    int p = off;
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int c = 0; c < paramCount; c++) {
        final float scale = scales[c];
        final float zp = zeroPoints[c];
        for (int end = i + inner; i < end; i++) {
          int q;
          if (sym) {
            q = (int) Math.floor(values.get(i) / scale + 0.5f);
            q = (q < -qmax ? -qmax : Math.min(q, qmax)) + qmax;
          } else {
            q = (int) Math.floor((values.get(i) - zp) / scale + 0.5f);
            q = q < 0 ? 0 : Math.min(q, levels);
          }
          acc |= q << accBits;
          accBits += bits;
          if (accBits >= 8) {
            dst[p++] = (byte) acc;
            acc >>>= 8;
            accBits -= 8;
          }
        }
      }
    }
    if (accBits > 0) dst[p] = (byte) acc;
  }

  private int deflate() {
    deflater.reset();
    deflater.setInput(packed, 0, packedBytes);
    deflater.finish();
    int len = 0;
    while (!deflater.finished()) {
      if (len == deflated.length) deflated = Arrays.copyOf(deflated, deflated.length * 2);
      len += deflater.deflate(deflated, len, deflated.length - len);
    }
    return len;
  }

  private void writeHeader(byte[] out, FrameHeader h, int payloadLen) {
    System.arraycopy(Wire.MAGIC, 0, out, 0, 4);
    out[4] = (byte) Wire.VERSION;
    out[5] = 0; // flags: reserved in v1
    int p = 6;
    p = putId(out, p, h.deviceId());
    p = putId(out, p, h.modelId());
    // The record copies the hash on construction; the accessor returns that copy without allocating.
    System.arraycopy(h.headSha256(), 0, out, p, Wire.HASH_BYTES);
    p += Wire.HASH_BYTES;
    Wire.putU64(out, p, h.sequence());
    Wire.putU64(out, p + 8, h.captureEpochMicros());
    Wire.putU16(out, p + 16, h.sourceWidth());
    Wire.putU16(out, p + 18, h.sourceHeight());
    p += 20;
    out[p++] = (byte) Wire.DTYPE_FLOAT32;
    out[p++] = (byte) spec.bits();
    out[p++] = (byte) (spec.granularity() == Granularity.PER_TENSOR ? 0 : 1);
    out[p++] = (byte) (spec.symmetric() ? 1 : 0);
    out[p++] = (byte) Wire.entropyId(spec.entropy());
    out[p++] = (byte) shape.length;
    for (int d : shape) {
      Wire.putU32(out, p, d);
      p += 4;
    }
    Wire.putU32(out, p, paramCount);
    p += 4;
    for (int c = 0; c < paramCount; c++) {
      Wire.putF32(out, p, scales[c]);
      Wire.putF32(out, p + 4, zeroPoints[c]);
      p += 8;
    }
    Wire.putU32(out, p, payloadLen);
  }

  /** Ids are validated ASCII by {@link FrameHeader}: one byte per char, no encoder allocation. */
  private static int putId(byte[] out, int p, String id) {
    out[p++] = (byte) id.length();
    for (int k = 0; k < id.length(); k++) out[p++] = (byte) id.charAt(k);
    return p;
  }
}

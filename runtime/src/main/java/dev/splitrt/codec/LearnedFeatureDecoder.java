package dev.splitrt.codec;

import dev.splitrt.codec.FeatureFrameException.Reason;
import java.util.Arrays;
import java.util.Objects;

/**
 * Strict decoder of FeatureFrame version 4 with the learned codec ({@code runtime/docs/feature-frame-v4.md}
 * §7) for messages from the network, which may be forged. It knows one set of {@link EntropyTables}
 * (those of the tail's head) and refuses frames coded with others. Every field and length is
 * checked before anything is allocated, the CRC before the payload is touched, the payload length is
 * bounded by {@code 4 + 2n} and the rANS decode does bounded work per element and must end exactly in
 * its initial state. Versions 1 to 3 are {@link FeatureDecoder}'s; this one answers them
 * UNSUPPORTED_VERSION. Thread-safe (no shared mutable state).
 */
public final class LearnedFeatureDecoder {
  static final int VERSION_4 = 4;
  /** Granularity id 4: integer symbols around per-channel offsets from the model's entropy tables. */
  static final int GRANULARITY_LEARNED = 4;
  /** Entropy id 3: rANS with the model's entropy tables. */
  static final int ENTROPY_RANS = 3;
  /** Bytes before the payload: magic..rank (62 + D + M, with the u32 boot epoch), dims (4R), table id, payload length. */
  static int headerBytes(int deviceIdBytes, int modelIdBytes, int rank) {
    return 78 + deviceIdBytes + modelIdBytes + 4 * rank;
  }

  private final EntropyTables tables;
  private final int maxElements;

  /** @param maxElements the largest element count accepted, e.g. the model's bottleneck size */
  public LearnedFeatureDecoder(EntropyTables tables, int maxElements) {
    this.tables = Objects.requireNonNull(tables, "LearnedFeatureDecoder tables is null");
    if (maxElements < 1) throw new IllegalArgumentException("LearnedFeatureDecoder maxElements = " + maxElements + "; must be >= 1");
    this.maxElements = maxElements;
  }

  public EntropyTables tables() {
    return tables;
  }

  public LearnedFeatureFrame decode(byte[] m) throws FeatureFrameException {
    FrameReading.magic(m);
    int version = Wire.u8(m, 4);
    if (version != VERSION_4) {
      throw new FeatureFrameException(Reason.UNSUPPORTED_VERSION, "version " + version
          + "; this decoder reads version 4 (learned codec); versions 1 to 3 are FeatureDecoder's");
    }
    FrameReading.Ids ids = FrameReading.ids(m, version);
    int p = ids.hashOffset();
    int hashOff = p;
    need(m, p, Wire.HASH_BYTES + 24 + 6, "head hash, sequence, epoch, timestamp, source size and codec bytes");
    p += Wire.HASH_BYTES + 20;
    FrameReading.sourceSize(m, p);
    int sourceWidth = Wire.u16(m, p);
    int sourceHeight = Wire.u16(m, p + 2);
    p += 4;
    int dtype = Wire.u8(m, p);
    if (dtype != Wire.DTYPE_FLOAT32) bad(p, "dtype " + dtype + "; v4 defines only 1 (float32)");
    int bits = Wire.u8(m, p + 1);
    if (bits != 0) bad(p + 1, "bits " + bits + "; a learned-codec frame has no fixed code width and writes 0");
    int gran = Wire.u8(m, p + 2);
    if (gran != GRANULARITY_LEARNED) bad(p + 2, "granularity " + gran + "; a v4 frame uses 4 (learned)");
    int sym = Wire.u8(m, p + 3);
    if (sym != 0) bad(p + 3, "symmetric " + sym + "; a learned-codec frame writes 0");
    int entropy = Wire.u8(m, p + 4);
    if (entropy != ENTROPY_RANS) bad(p + 4, "entropy " + entropy + "; a v4 frame uses 3 (rANS with the model's tables)");
    int rank = Wire.u8(m, p + 5);
    if (rank < 2 || rank > Wire.MAX_RANK) bad(p + 5, "rank " + rank + "; allowed 2.." + Wire.MAX_RANK + " (axis 1 = channels)");
    p += 6;
    long[] dims = FrameReading.dims(m, p, rank, maxElements);
    long n = FrameReading.elements(dims);
    if (dims[1] != tables.channels()) {
      bad(p + 4, "dims " + Arrays.toString(dims) + " have " + dims[1] + " channels; the entropy tables have " + tables.channels());
    }
    p += 4 * rank;
    need(m, p, 8, "table id and payload length");
    int tableId = Wire.i32(m, p);
    if (tableId != tables.tableId()) {
      bad(p, String.format("table id 0x%08x; this decoder holds tables 0x%08x (the frame was coded with another "
          + "model's entropy tables)", tableId, tables.tableId()));
    }
    long payloadLen = Wire.u32(m, p + 4);
    if (payloadLen < RansCoder.STATE_BYTES || payloadLen > RansCoder.maxPayloadBytes(n)) {
      bad(p + 4, "payload length " + payloadLen + "; a rANS payload of " + n + " symbols has "
          + RansCoder.STATE_BYTES + ".." + RansCoder.maxPayloadBytes(n) + " bytes");
    }
    p += 8;
    int payloadOff = p;
    FrameReading.lengthAndCrc(m, payloadOff, payloadLen);
    String deviceId = FrameReading.id(m, ids.deviceOffset(), ids.deviceLength(), "device id");
    String modelId = FrameReading.id(m, ids.modelOffset(), ids.modelLength(), "model id");
    byte[] hash = Arrays.copyOfRange(m, hashOff, hashOff + Wire.HASH_BYTES);
    long sequence = Wire.u64(m, hashOff + Wire.HASH_BYTES);
    long epoch = Wire.u32(m, hashOff + Wire.HASH_BYTES + 8);
    long capture = Wire.u64(m, hashOff + Wire.HASH_BYTES + 12);
    int[] shape = new int[rank];
    for (int k = 0; k < rank; k++) shape[k] = (int) dims[k];
    int[] symbols = new int[(int) n];
    RansCoder.decode(m, payloadOff, (int) payloadLen, (int) n, LearnedFeatureFrame.inner(shape), tables, symbols);
    FrameHeader header = new FrameHeader(deviceId, modelId, hash, sequence, capture, sourceWidth, sourceHeight, epoch);
    return new LearnedFeatureFrame(header, shape, tableId, symbols);
  }

  private static void need(byte[] m, int off, long count, String what) throws FeatureFrameException {
    FrameReading.need(m, off, count, what);
  }

  private static void bad(int off, String what) throws FeatureFrameException {
    FrameReading.bad(off, what);
  }
}

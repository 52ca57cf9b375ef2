package dev.splitrt.codec;

import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * Turns one head output (the latent of a learned entropy bottleneck) into one FeatureFrame
 * version 4 message ({@code runtime/docs/feature-frame-v4.md}): per element
 * {@code s = clamp(floor((y - offset[c]) + 0.5), minSymbol[c], maxSymbol[c])} in float32, the
 * symbols rANS-coded with the model's {@link EntropyTables}. Built once per pipeline thread for one
 * shape; the per-frame path allocates only the returned message. Not thread-safe.
 *
 * <p>Non-finite input is rejected with an {@link IllegalArgumentException} naming the frame and
 * the element; nothing is encoded and the encoder stays usable.
 */
public final class LearnedFeatureEncoder {
  private final EntropyTables tables;
  private final int[] shape;
  private final int elements;
  private final int inner;
  private final int[] symbols;
  private final byte[] payload;
  private final CRC32C crc = new CRC32C();

  public LearnedFeatureEncoder(EntropyTables tables, int[] shape) {
    this.tables = Objects.requireNonNull(tables, "LearnedFeatureEncoder tables is null");
    Objects.requireNonNull(shape, "LearnedFeatureEncoder shape is null");
    if (shape.length < 2 || shape.length > Wire.MAX_RANK) {
      throw new IllegalArgumentException("LearnedFeatureEncoder: shape " + Arrays.toString(shape)
          + " has rank " + shape.length + "; the learned codec needs 2.." + Wire.MAX_RANK + " (axis 1 = channels)");
    }
    if (shape[1] != tables.channels()) {
      throw new IllegalArgumentException("LearnedFeatureEncoder: shape " + Arrays.toString(shape) + " has " + shape[1]
          + " channels but the entropy tables have " + tables.channels() + "; use the tables of this head");
    }
    this.shape = shape.clone();
    this.elements = Shapes.elementCount(shape);
    this.inner = LearnedFeatureFrame.inner(shape);
    long max = RansCoder.maxPayloadBytes(elements);
    if (max > Integer.MAX_VALUE - 4096) {
      throw new IllegalArgumentException("LearnedFeatureEncoder: shape " + Arrays.toString(shape) + " is too large");
    }
    this.symbols = new int[elements];
    this.payload = new byte[(int) max];
  }

  /** The symbols (table indices) of {@code values[0..n)}: exactly what {@link #encode} codes. */
  public int[] symbols(FloatBuffer values, FrameHeader header) {
    quantize(header, values);
    return symbols.clone();
  }

  private void quantize(FrameHeader header, FloatBuffer values) {
    if (values.limit() < elements) {
      throw new IllegalArgumentException("LearnedFeatureEncoder.encode: values has limit " + values.limit()
          + " but shape " + Arrays.toString(shape) + " needs " + elements + " floats");
    }
    int channels = shape[1];
    for (int i = 0; i < elements; i++) {
      int c = (i / inner) % channels;
      float y = values.get(i);
      if (!Float.isFinite(y)) {
        throw new IllegalArgumentException("LearnedFeatureEncoder: device " + header.deviceId() + " model "
            + header.modelId() + " sequence " + Long.toUnsignedString(header.sequence()) + ": element " + i + " is " + y
            + "; the head produced a non-finite value, frame dropped");
      }
      float v = (float) Math.floor(y - tables.offset(c) + 0.5f);
      int lo = tables.minSymbol(c);
      int top = tables.symbols(c) - 1;
      // compare as float first: a huge v must not overflow the int conversion
      int j = v <= lo ? 0 : v >= lo + top ? top : (int) v - lo;
      symbols[i] = j;
    }
  }

  /** Quantizes, codes and frames {@code values[0..n)} (absolute reads); returns the whole message, CRC included. */
  public byte[] encode(FrameHeader header, FloatBuffer values) {
    Objects.requireNonNull(header, "LearnedFeatureEncoder.encode header is null");
    Objects.requireNonNull(values, "LearnedFeatureEncoder.encode values is null");
    quantize(header, values);
    return frame(header, symbols);
  }

  /** Frames already computed symbols (table indices, validated here) as a v4 message. */
  public byte[] frame(FrameHeader header, int[] sym) {
    if (sym.length != elements) {
      throw new IllegalArgumentException("LearnedFeatureEncoder.frame: " + sym.length + " symbols, shape needs " + elements);
    }
    int channels = shape[1];
    for (int i = 0; i < elements; i++) {
      int c = (i / inner) % channels;
      if (sym[i] < 0 || sym[i] >= tables.symbols(c)) {
        throw new IllegalArgumentException("LearnedFeatureEncoder.frame: symbol index " + sym[i] + " at element " + i
            + " outside 0.." + (tables.symbols(c) - 1) + " of channel " + c);
      }
    }
    int len = RansCoder.encode(sym, elements, inner, tables, payload);
    byte[] dev = header.deviceId().getBytes(StandardCharsets.US_ASCII);
    byte[] model = header.modelId().getBytes(StandardCharsets.US_ASCII);
    int headerBytes = LearnedFeatureDecoder.headerBytes(dev.length, model.length, shape.length);
    byte[] m = new byte[headerBytes + len + Wire.CRC_BYTES];
    System.arraycopy(Wire.MAGIC, 0, m, 0, 4);
    m[4] = (byte) LearnedFeatureDecoder.VERSION_4;
    m[5] = 0;
    int p = 6;
    m[p++] = (byte) dev.length;
    System.arraycopy(dev, 0, m, p, dev.length);
    p += dev.length;
    m[p++] = (byte) model.length;
    System.arraycopy(model, 0, m, p, model.length);
    p += model.length;
    System.arraycopy(header.headSha256(), 0, m, p, Wire.HASH_BYTES);
    p += Wire.HASH_BYTES;
    Wire.putU64(m, p, header.sequence());
    Wire.putU32(m, p + 8, (int) header.epoch());           // 0 = none; a learned frame always has the field
    Wire.putU64(m, p + 12, header.captureEpochMicros());
    Wire.putU16(m, p + 20, header.sourceWidth());
    Wire.putU16(m, p + 22, header.sourceHeight());
    p += 24;
    m[p] = (byte) Wire.DTYPE_FLOAT32;
    m[p + 1] = 0;                                           // bits: no fixed code width
    m[p + 2] = (byte) LearnedFeatureDecoder.GRANULARITY_LEARNED;
    m[p + 3] = 0;                                           // symmetric
    m[p + 4] = (byte) LearnedFeatureDecoder.ENTROPY_RANS;
    m[p + 5] = (byte) shape.length;
    p += 6;
    for (int d : shape) {
      Wire.putU32(m, p, d);
      p += 4;
    }
    Wire.putU32(m, p, tables.tableId());
    Wire.putU32(m, p + 4, len);
    p += 8;
    System.arraycopy(payload, 0, m, p, len);
    p += len;
    crc.reset();
    crc.update(m, 0, p);
    Wire.putU32(m, p, (int) crc.getValue());
    return m;
  }
}

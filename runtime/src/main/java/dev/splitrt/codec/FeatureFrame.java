package dev.splitrt.codec;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One decoded FeatureFrame v1: the header, the shape and codec, the quantization parameters and
 * the still-packed codes. The tail dequantizes straight into its input tensor with
 * {@link #dequantizeInto}, so no intermediate float array exists. The arrays are not copied.
 *
 * @param scales one per parameter group (1 per tensor, {@code shape[1]} per channel)
 * @param zeroPoints asymmetric: the real value of code 0 (the group's minimum); symmetric: 0
 * @param packed {@code ceil(n * bits / 8)} bytes of codes, LSB-first
 */
public record FeatureFrame(FrameHeader header, int[] shape, CodecSpec codec, float[] scales, float[] zeroPoints,
                           byte[] packed) {

  public FeatureFrame {
    Objects.requireNonNull(header, "FeatureFrame header is null");
    Objects.requireNonNull(codec, "FeatureFrame codec is null");
    String p = Shapes.problem(shape, codec.granularity());
    if (p != null) throw new IllegalArgumentException("FeatureFrame: " + p);
    int groups = Shapes.paramCount(shape, codec.granularity());
    if (scales == null || zeroPoints == null || scales.length != groups || zeroPoints.length != groups) {
      throw new IllegalArgumentException("FeatureFrame: shape " + Arrays.toString(shape) + " " + codec.granularity()
          + " needs " + groups + " scales and zero points, got " + (scales == null ? "null" : scales.length) + " and "
          + (zeroPoints == null ? "null" : zeroPoints.length));
    }
    long need = Wire.packedBytes(Shapes.elementCount(shape), codec.bits());
    if (packed == null || packed.length != need) {
      throw new IllegalArgumentException("FeatureFrame: shape " + Arrays.toString(shape) + " at " + codec.bits()
          + " bits needs " + need + " packed bytes, got " + (packed == null ? "null" : packed.length));
    }
  }

  public int elementCount() {
    return Shapes.elementCount(shape);
  }

  /**
   * Writes the n dequantized values to {@code out[0..n)} (absolute writes; position and limit
   * untouched, limit must be at least n). Asymmetric: {@code x = q * scale + zeroPoint}; symmetric:
   * {@code x = (q - (2^(bits-1) - 1)) * scale}; float32 arithmetic.
   */
  public void dequantizeInto(FloatBuffer out) {
    int n = elementCount();
    if (out.limit() < n) {
      throw new IllegalArgumentException("FeatureFrame.dequantizeInto: out has limit " + out.limit() + " but shape "
          + Arrays.toString(shape) + " has " + n + " elements");
    }
    final int bits = codec.bits();
    final int mask = (1 << bits) - 1;
    final int qmax = (1 << (bits - 1)) - 1;
    final boolean sym = codec.symmetric();
    final int outer = Shapes.outer(shape, codec.granularity());
    final int groups = scales.length;
    final int inner = Shapes.inner(shape, codec.granularity());
    int acc = 0;
    int accBits = 0;
    int p = 0;
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int c = 0; c < groups; c++) {
        final float scale = scales[c];
        final float zp = zeroPoints[c];
        for (int end = i + inner; i < end; i++) {
          if (accBits < bits) {
            acc |= (packed[p++] & 0xFF) << accBits;
            accBits += 8;
          }
          int q = acc & mask;
          acc >>>= bits;
          accBits -= bits;
          out.put(i, sym ? (q - qmax) * scale : q * scale + zp);
        }
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FeatureFrame f && header.equals(f.header) && Arrays.equals(shape, f.shape)
        && codec.equals(f.codec) && Arrays.equals(scales, f.scales) && Arrays.equals(zeroPoints, f.zeroPoints)
        && Arrays.equals(packed, f.packed);
  }

  @Override
  public int hashCode() {
    return Objects.hash(header, Arrays.hashCode(shape), codec, Arrays.hashCode(scales), Arrays.hashCode(zeroPoints),
        Arrays.hashCode(packed));
  }

  @Override
  public String toString() {
    return "FeatureFrame[" + header + ", shape=" + Arrays.toString(shape) + ", codec=" + codec + ", scales="
        + scales.length + ", packed=" + packed.length + " bytes]";
  }
}

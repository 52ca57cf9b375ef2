package dev.splitrt.codec;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One decoded FeatureFrame (v1 or v2): the header, the shape and codec, the quantization parameters
 * and the still-packed codes. The tail dequantizes straight into its input tensor with
 * {@link #dequantizeInto}, so no intermediate float array exists. The arrays are not copied.
 *
 * @param scales one per range of each parameter group (groups: 1 per tensor, {@code shape[1]} per
 *     channel; ranges: 1, or 3 for the three-range granularities, group-major)
 * @param zeroPoints asymmetric: the real value of the range's first code (its minimum); symmetric: 0
 * @param packed {@code ceil(n * bits / 8)} bytes of codes, LSB-first
 * @param levels three-range granularities: codes given to each range (one per scale, the three of a
 *     group sum to {@code 2^bits}; a group's codes {@code [0, L0)} are range 0, {@code [L0, L0+L1)}
 *     range 1, the rest range 2); uniform granularities: empty
 */
public record FeatureFrame(FrameHeader header, int[] shape, CodecSpec codec, float[] scales, float[] zeroPoints,
                           byte[] packed, int[] levels) {

  /** A uniform (one range per group) frame: no level table. */
  public FeatureFrame(FrameHeader header, int[] shape, CodecSpec codec, float[] scales, float[] zeroPoints,
                      byte[] packed) {
    this(header, shape, codec, scales, zeroPoints, packed, new int[0]);
  }

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
    levels = levels == null ? new int[0] : levels;
    if (codec.granularity().ranges() == 1 && levels.length != 0) {
      throw new IllegalArgumentException("FeatureFrame: " + codec.granularity() + " frames have no level table, got "
          + levels.length + " levels");
    }
    if (codec.granularity().ranges() == 3) {
      if (levels.length != groups) {
        throw new IllegalArgumentException("FeatureFrame: " + codec.granularity() + " needs " + groups + " levels, got "
            + levels.length);
      }
      for (int g = 0; g < groups; g += 3) {
        if (levels[g] < 0 || levels[g + 1] < 0 || levels[g + 2] < 0
            || levels[g] + levels[g + 1] + levels[g + 2] != 1 << codec.bits()) {
          throw new IllegalArgumentException("FeatureFrame: levels " + levels[g] + ", " + levels[g + 1] + ", "
              + levels[g + 2] + " of group " + g / 3 + " must be >= 0 and sum to " + (1 << codec.bits()));
        }
      }
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
   * {@code x = (q - (2^(bits-1) - 1)) * scale}; three-range: {@code x = (q - first) * scale + zeroPoint}
   * with the range that code {@code q} falls in; float32 arithmetic.
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
    final int groups = Shapes.groups(shape, codec.granularity());
    final int inner = Shapes.inner(shape, codec.granularity());
    if (codec.granularity().ranges() == 3) {
      dequantizeThreeRange(out, outer, groups, inner);
      return;
    }
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

  private void dequantizeThreeRange(FloatBuffer out, int outer, int groups, int inner) {
    final int bits = codec.bits();
    final int mask = (1 << bits) - 1;
    int acc = 0;
    int accBits = 0;
    int p = 0;
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int g = 0; g < groups; g++) {
        final int r0 = 3 * g;
        final int first1 = levels[r0];
        final int first2 = first1 + levels[r0 + 1];
        for (int end = i + inner; i < end; i++) {
          if (accBits < bits) {
            acc |= (packed[p++] & 0xFF) << accBits;
            accBits += 8;
          }
          int q = acc & mask;
          acc >>>= bits;
          accBits -= bits;
          int r = q < first1 ? r0 : q < first2 ? r0 + 1 : r0 + 2;
          int first = q < first1 ? 0 : q < first2 ? first1 : first2;
          out.put(i, (q - first) * scales[r] + zeroPoints[r]);
        }
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FeatureFrame f && header.equals(f.header) && Arrays.equals(shape, f.shape)
        && codec.equals(f.codec) && Arrays.equals(scales, f.scales) && Arrays.equals(zeroPoints, f.zeroPoints)
        && Arrays.equals(packed, f.packed) && Arrays.equals(levels, f.levels);
  }

  @Override
  public int hashCode() {
    return Objects.hash(header, Arrays.hashCode(shape), codec, Arrays.hashCode(scales), Arrays.hashCode(zeroPoints),
        Arrays.hashCode(packed), Arrays.hashCode(levels));
  }

  @Override
  public String toString() {
    return "FeatureFrame[" + header + ", shape=" + Arrays.toString(shape) + ", codec=" + codec + ", scales="
        + scales.length + ", packed=" + packed.length + " bytes]";
  }
}

package dev.splitrt.codec;

import java.util.Arrays;

/** Shape rules shared by the encoder, the decoder and {@link FeatureFrame}. */
final class Shapes {
  private Shapes() {}

  /** Null when {@code shape} is a valid v1 shape for {@code granularity}, otherwise what is wrong. */
  static String problem(int[] shape, Granularity granularity) {
    if (shape == null) return "shape is null";
    if (shape.length < 1 || shape.length > Wire.MAX_RANK) {
      return "shape " + Arrays.toString(shape) + " has rank " + shape.length + "; allowed 1.." + Wire.MAX_RANK;
    }
    long n = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 1) return "shape " + Arrays.toString(shape) + " has dim[" + i + "] = " + shape[i] + "; dims must be >= 1";
      n *= shape[i];
      if (n > Integer.MAX_VALUE) {
        return "shape " + Arrays.toString(shape) + " has more than " + Integer.MAX_VALUE + " elements";
      }
    }
    if (granularity.perChannel() && shape.length < 2) {
      return "shape " + Arrays.toString(shape) + " has rank 1; per-channel quantization needs axis 1 (rank >= 2)";
    }
    return null;
  }

  static int elementCount(int[] shape) {
    int n = 1;
    for (int d : shape) n = Math.multiplyExact(n, d);
    return n;
  }

  /** Parameter groups: 1 per tensor, or one per channel (axis 1). */
  static int groups(int[] shape, Granularity granularity) {
    return granularity.perChannel() ? shape[1] : 1;
  }

  /** Scale/zero-point pairs in a frame: one per range of each group. */
  static int paramCount(int[] shape, Granularity granularity) {
    return groups(shape, granularity) * granularity.ranges();
  }

  /** Elements per (outer, channel) block: product of dims after axis 1; the whole tensor per tensor. */
  static int inner(int[] shape, Granularity granularity) {
    if (!granularity.perChannel()) return elementCount(shape);
    int inner = 1;
    for (int i = 2; i < shape.length; i++) inner *= shape[i];
    return inner;
  }

  /** Number of blocks before axis 1 (dim 0); 1 per tensor. */
  static int outer(int[] shape, Granularity granularity) {
    return granularity.perChannel() ? shape[0] : 1;
  }
}

package dev.splitrt.quant;

import java.util.Arrays;

/**
 * Exact Lloyd k-means with k = 3 on scalars, deterministic: the centres start at the minimum, the
 * median and the maximum, and iterate until the assignment stops changing. On sorted values every
 * cluster is a contiguous run, so one iteration is two binary searches and three means.
 */
final class KMeans1d {
  private static final int MAX_ITERATIONS = 200;

  private KMeans1d() {}

  /**
   * The two boundaries, midpoints between the sorted centres: a value {@code v} belongs to
   * cluster 0 if {@code v <= b[0]}, cluster 1 if {@code b[0] < v <= b[1]}, else cluster 2.
   */
  static double[] boundaries(float[] values) {
    if (values.length == 0) throw new IllegalArgumentException("k-means over no values");
    double[] s = new double[values.length];
    for (int i = 0; i < values.length; i++) s[i] = values[i];
    Arrays.sort(s);
    int n = s.length;
    double[] c = {s[0], s[(n - 1) / 2], s[n - 1]};
    double[] prefix = new double[n + 1];
    for (int i = 0; i < n; i++) prefix[i + 1] = prefix[i] + s[i];
    int e0 = -1;
    int e1 = -1;
    for (int it = 0; it < MAX_ITERATIONS; it++) {
      double b0 = (c[0] + c[1]) / 2;
      double b1 = (c[1] + c[2]) / 2;
      int n0 = upper(s, b0);               // [0, n0) cluster 0
      int n1 = Math.max(n0, upper(s, b1)); // [n0, n1) cluster 1, [n1, n) cluster 2
      if (n0 == e0 && n1 == e1) break;
      e0 = n0;
      e1 = n1;
      if (n0 > 0) c[0] = prefix[n0] / n0;
      if (n1 > n0) c[1] = (prefix[n1] - prefix[n0]) / (n1 - n0);
      if (n > n1) c[2] = (prefix[n] - prefix[n1]) / (n - n1);
      Arrays.sort(c);
    }
    return new double[] {(c[0] + c[1]) / 2, (c[1] + c[2]) / 2};
  }

  static int cluster(double[] b, float v) {
    return v <= b[0] ? 0 : v <= b[1] ? 1 : 2;
  }

  /** Index of the first element greater than {@code x}. */
  private static int upper(double[] s, double x) {
    int lo = 0;
    int hi = s.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (s[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

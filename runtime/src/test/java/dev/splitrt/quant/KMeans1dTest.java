package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class KMeans1dTest {
  @Test
  void findsThreeSeparatedGroupsWithBoundariesAtTheMidpointsOfTheirMeans() {
    float[] v = {-10, -11, -9, 0.1f, -0.1f, 0, 0.2f, 5, 6, 7};
    double[] b = KMeans1d.boundaries(v);
    assertThat(b[0]).isCloseTo((-10 + 0.05) / 2, within(1e-6));
    assertThat(b[1]).isCloseTo((0.05 + 6) / 2, within(1e-6));
    assertThat(KMeans1d.cluster(b, -9)).isZero();
    assertThat(KMeans1d.cluster(b, 0.2f)).isEqualTo(1);
    assertThat(KMeans1d.cluster(b, 5)).isEqualTo(2);
  }

  @Test
  void isDeterministicAndIndependentOfOrder() {
    float[] a = {3, -1, 4, -1, 5, -9, 2, 6, -5, 3, 5};
    float[] b = {5, 3, -5, 6, 2, -9, 5, -1, 4, -1, 3};
    assertThat(KMeans1d.boundaries(a)).containsExactly(KMeans1d.boundaries(b));
  }

  @Test
  void collapsesGracefullyWhenThereAreFewerThanThreeDistinctValues() {
    double[] b = KMeans1d.boundaries(new float[] {2, 2, 2});
    assertThat(KMeans1d.cluster(b, 2)).isZero();
    double[] two = KMeans1d.boundaries(new float[] {-1, 1, 1});
    assertThat(KMeans1d.cluster(two, -1)).isNotEqualTo(KMeans1d.cluster(two, 1));
  }
}

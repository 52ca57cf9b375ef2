package dev.splitrt.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LatencyHistogramTest {
  @Test
  void percentilesOfAUniformSpreadAreWithinTheBucketWidth() {
    LatencyHistogram h = new LatencyHistogram();
    for (int ms = 1; ms <= 1000; ms++) h.recordMillis(ms);
    LatencyHistogram.Snapshot s = h.snapshot();
    assertThat(s.count()).isEqualTo(1000);
    assertThat(s.p50()).isCloseTo(500, within(500 * 0.025));
    assertThat(s.p95()).isCloseTo(950, within(950 * 0.025));
    assertThat(s.p99()).isCloseTo(990, within(990 * 0.025));
    assertThat(s.max()).isEqualTo(1000);
    assertThat(s.mean()).isCloseTo(500.5, within(0.01));
  }

  @Test
  void neverReportsMoreThanTheLargestSample() {
    LatencyHistogram h = new LatencyHistogram();
    h.recordMillis(3.3);
    assertThat(h.snapshot().p99()).isLessThanOrEqualTo(3.3).isGreaterThan(3.2);
  }

  @Test
  void emptyAndOutOfRangeSamplesAreHandled() {
    LatencyHistogram h = new LatencyHistogram();
    assertThat(h.snapshot().p50()).isZero();
    h.recordNanos(-5);
    h.recordMillis(7_200_000); // two hours: lands in the last bucket, max still exact
    assertThat(h.snapshot().count()).isEqualTo(2);
    assertThat(h.snapshot().max()).isEqualTo(7_200_000);
  }
}

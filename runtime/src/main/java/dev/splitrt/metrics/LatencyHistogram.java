package dev.splitrt.metrics;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A lock-free latency histogram with log-spaced buckets (about 2 % wide) from 1 µs to ~1 h, so
 * percentiles are accurate to ~2 % at any scale without keeping samples. Recording allocates
 * nothing, so it can sit on the per-frame path.
 */
public final class LatencyHistogram {
  /** Buckets per factor e of latency: 50 gives a bucket ratio of e^(1/50) ≈ 1.020. */
  private static final double PER_E = 50.0;
  private static final int BUCKETS = (int) Math.ceil(Math.log(3.6e9) * PER_E) + 1; // 1 µs .. 1 h

  private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
  private final LongAdder count = new LongAdder();
  private final LongAdder sumNanos = new LongAdder();
  private final java.util.concurrent.atomic.AtomicLong maxNanos = new java.util.concurrent.atomic.AtomicLong();

  public void recordNanos(long nanos) {
    if (nanos < 0) nanos = 0;
    double micros = nanos / 1000.0;
    int i = micros <= 1.0 ? 0 : (int) Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) * PER_E));
    counts.incrementAndGet(i);
    count.increment();
    sumNanos.add(nanos);
    maxNanos.accumulateAndGet(nanos, Math::max);
  }

  public void recordMillis(double millis) {
    recordNanos((long) (millis * 1e6));
  }

  public long count() {
    return count.sum();
  }

  public Snapshot snapshot() {
    long[] c = new long[BUCKETS];
    long n = 0;
    for (int i = 0; i < BUCKETS; i++) {
      c[i] = counts.get(i);
      n += c[i];
    }
    double mean = n == 0 ? 0 : sumNanos.sum() / 1e6 / n;
    return new Snapshot(n, percentile(c, n, 0.50), percentile(c, n, 0.95), percentile(c, n, 0.99),
        maxNanos.get() / 1e6, mean, sumNanos.sum() / 1e9);
  }

  /** The bucket's upper bound in ms, capped by the observed maximum (never reports more than was seen). */
  private double percentile(long[] c, long n, double q) {
    if (n == 0) return 0;
    long rank = (long) Math.ceil(q * n);
    long seen = 0;
    for (int i = 0; i < c.length; i++) {
      seen += c[i];
      if (seen >= rank) {
        double upperMs = Math.exp(i / PER_E) / 1000.0;
        return Math.min(upperMs, maxNanos.get() / 1e6);
      }
    }
    return maxNanos.get() / 1e6;
  }

  /** Percentiles in milliseconds; {@code sumSeconds} for Prometheus' {@code _sum}. */
  public record Snapshot(long count, double p50, double p95, double p99, double max, double mean, double sumSeconds) {}
}

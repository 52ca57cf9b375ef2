package dev.splitrt.transport;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Reconnect delays: the ceiling doubles from {@code min} with every failed attempt up to {@code max},
 * and each delay is drawn uniformly from {@code [min, ceiling]} ("full jitter" above a floor), so a fleet
 * that lost its broker at the same instant does not come back in lock step. Not thread-safe: one
 * connection loop owns it.
 */
final class Backoff {
  private final long minNanos;
  private final long maxNanos;
  private final RandomGenerator random;
  private int attempt;

  Backoff(Duration min, Duration max, RandomGenerator random) {
    if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
      throw new IllegalArgumentException("backoff needs 0 < min <= max, got min " + min + ", max " + max);
    }
    this.minNanos = min.toNanos();
    this.maxNanos = max.toNanos();
    this.random = random;
  }

  /** The ceiling of the next delay: min * 2^(attempt+1), capped at max. */
  Duration ceiling() {
    return Duration.ofNanos(ceilingNanos(attempt));
  }

  /** The delay before the next attempt; advances the attempt counter. */
  Duration next() {
    long ceiling = ceilingNanos(attempt);
    if (attempt < 62) {
      attempt++;
    }
    long span = ceiling - minNanos;
    return Duration.ofNanos(span == 0 ? minNanos : minNanos + random.nextLong(span + 1));
  }

  /** After a successful connect: the next outage starts small again. */
  void reset() {
    attempt = 0;
  }

  private long ceilingNanos(int n) {
    int shift = Math.min(n + 1, 62);
    long c = minNanos > (Long.MAX_VALUE >> shift) ? Long.MAX_VALUE : minNanos << shift;
    return Math.min(c, maxNanos);
  }
}

package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static final Duration MIN = Duration.ofMillis(100);
  private static final Duration MAX = Duration.ofSeconds(5);

  @Test
  void everyDelayLiesBetweenTheFloorAndTheDoublingCeiling() {
    Backoff b = new Backoff(MIN, MAX, new SplittableRandom(1));
    for (int attempt = 0; attempt < 40; attempt++) {
      Duration ceiling = b.ceiling();
      Duration d = b.next();
      assertThat(d).isBetween(MIN, ceiling);
      assertThat(ceiling).isLessThanOrEqualTo(MAX);
    }
  }

  @Test
  void ceilingDoublesUntilTheCap() {
    Backoff b = new Backoff(MIN, MAX, new SplittableRandom(2));
    long[] expectedMs = {200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (long ms : expectedMs) {
      assertThat(b.ceiling()).isEqualTo(Duration.ofMillis(ms));
      b.next();
    }
  }

  @Test
  void neverExceedsTheCapEvenAfterManyAttempts() {
    Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofHours(1), new SplittableRandom(3));
    for (int i = 0; i < 10_000; i++) {
      assertThat(b.next()).isLessThanOrEqualTo(Duration.ofHours(1)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    }
  }

  @Test
  void jitterSpreadsDelaysOverTheWholeRange() {
    Set<Long> distinct = new HashSet<>();
    long lowest = Long.MAX_VALUE;
    long highest = 0;
    for (int seed = 0; seed < 500; seed++) {
      Backoff b = new Backoff(MIN, MAX, new SplittableRandom(seed));
      for (int i = 0; i < 6; i++) {
        b.next();
      }
      long ms = b.next().toMillis(); // ceiling 5000 (capped)
      distinct.add(ms);
      lowest = Math.min(lowest, ms);
      highest = Math.max(highest, ms);
    }
    assertThat(distinct).hasSizeGreaterThan(400);
    assertThat(lowest).isLessThan(600);
    assertThat(highest).isGreaterThan(4500);
  }

  @Test
  void resetStartsTheNextOutageSmall() {
    Backoff b = new Backoff(MIN, MAX, new SplittableRandom(4));
    for (int i = 0; i < 10; i++) {
      b.next();
    }
    assertThat(b.ceiling()).isEqualTo(MAX);
    b.reset();
    assertThat(b.ceiling()).isEqualTo(Duration.ofMillis(200));
    assertThat(b.next()).isBetween(MIN, Duration.ofMillis(200));
  }

  @Test
  void equalMinAndMaxGiveAFixedDelay() {
    Backoff b = new Backoff(MIN, MIN, new SplittableRandom(5));
    assertThat(b.next()).isEqualTo(MIN);
    assertThat(b.next()).isEqualTo(MIN);
  }

  @Test
  void rejectsAnInvertedRange() {
    assertThatThrownBy(() -> new Backoff(MAX, MIN, new SplittableRandom()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("min <= max");
  }

  /** When a client that lost its broker at t = 0 gets back in, if the broker is up again from {@code outage}. */
  private static long backAtNanos(Duration min, Duration outage, SplittableRandom random) {
    Backoff b = new Backoff(min, Duration.ofSeconds(30), random);
    long t = 0;
    do {
      t += b.next().toNanos();     // wait, then try: attempts before the broker is back fail at once
    } while (t < outage.toNanos());
    return t;
  }

  /** Share of trials in which the device (1 s floor) reconnects before the tail (250 ms floor); the defaults of the daemons. */
  private static double deviceFirst(Duration outage) {
    SplittableRandom r = new SplittableRandom(42);
    int first = 0;
    int trials = 20_000;
    for (int i = 0; i < trials; i++) {
      if (backAtNanos(Duration.ofSeconds(1), outage, r) < backAtNanos(Duration.ofMillis(250), outage, r)) first++;
    }
    return (double) first / trials;
  }

  @Test
  void afterAnOutageOfSecondsEitherSideCanReconnectFirst() {
    // configuration.md: tails usually win after a short outage, but after ~10 s either side can come back first.
    double shortOutage = deviceFirst(Duration.ofMillis(500));
    double tenSeconds = deviceFirst(Duration.ofSeconds(10));
    double minute = deviceFirst(Duration.ofSeconds(60));
    System.out.printf("device reconnects before tail: 0.5 s outage %.3f, 10 s %.3f, 60 s %.3f%n", shortOutage, tenSeconds, minute);
    assertThat(shortOutage).isLessThan(0.25);
    assertThat(tenSeconds).isGreaterThan(0.25);
    assertThat(minute).isGreaterThan(0.25);
  }
}

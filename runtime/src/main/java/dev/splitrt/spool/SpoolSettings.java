package dev.splitrt.spool;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What the spool may hold and how hard it writes.
 *
 * @param dir the spool folder (segments and the boot-epoch file); created if missing
 * @param maxBytes the most bytes of segment files on disk; when full, {@code fullPolicy} decides
 * @param segmentBytes a segment is closed and a new one begun beyond this size
 * @param maxAge an accepted feature older than this (from its capture time) expires, counted
 * @param fsync when appended records are forced to the device (see {@link Fsync})
 * @param fsyncInterval the group-commit period for {@link Fsync#INTERVAL}
 * @param fullPolicy what a full spool does with a new feature
 */
public record SpoolSettings(Path dir, long maxBytes, long segmentBytes, Duration maxAge, Fsync fsync,
                            Duration fsyncInterval, FullPolicy fullPolicy) {
  public static final long DEFAULT_MAX_BYTES = 64L << 20;
  public static final long DEFAULT_SEGMENT_BYTES = 4L << 20;
  public static final Duration DEFAULT_MAX_AGE = Duration.ofMinutes(30);
  public static final Duration DEFAULT_FSYNC_INTERVAL = Duration.ofMillis(50);

  /** When appended records reach the storage device. */
  public enum Fsync {
    /** Forced before {@code append} returns: a feature counts as accepted only once it is on the device. */
    ALWAYS,
    /** Group commit: a flusher forces the active segment every {@code fsyncInterval} when something was written. */
    INTERVAL,
    /** Never forced by the spool: the kernel writes back when it decides (power loss may lose its dirty pages). */
    NEVER
  }

  /** What {@code append} does when the spool holds {@code maxBytes}. */
  public enum FullPolicy {
    /** Wait until answers free space: the head waits and a live source drops frames before the head (counted there). */
    BLOCK,
    /** Expire the oldest segment's unanswered features (each counted as {@code spool_full}) to make room. */
    DROP_OLDEST
  }

  public SpoolSettings {
    Objects.requireNonNull(dir, "spool dir is null");
    Objects.requireNonNull(maxAge, "spool maxAge is null");
    Objects.requireNonNull(fsync, "spool fsync is null");
    Objects.requireNonNull(fsyncInterval, "spool fsyncInterval is null");
    Objects.requireNonNull(fullPolicy, "spool fullPolicy is null");
    if (segmentBytes < 4096) throw new IllegalArgumentException("spool segmentBytes " + segmentBytes + " must be >= 4096");
    if (maxBytes < 2 * segmentBytes) {
      throw new IllegalArgumentException("spool maxBytes " + maxBytes + " must be >= 2 x segmentBytes (" + segmentBytes
          + "): the spool needs room for the segment being written and one being emptied");
    }
    if (maxAge.isNegative() || maxAge.isZero()) throw new IllegalArgumentException("spool maxAge must be > 0, was " + maxAge);
    if (fsync == Fsync.INTERVAL && (fsyncInterval.isNegative() || fsyncInterval.isZero())) {
      throw new IllegalArgumentException("spool fsyncInterval must be > 0 with fsync INTERVAL, was " + fsyncInterval);
    }
  }

  /** The defaults of {@code runtime/docs/delivery.md} in {@code dir}. */
  public static SpoolSettings defaults(Path dir) {
    return new SpoolSettings(dir, DEFAULT_MAX_BYTES, DEFAULT_SEGMENT_BYTES, DEFAULT_MAX_AGE, Fsync.INTERVAL,
        DEFAULT_FSYNC_INTERVAL, FullPolicy.BLOCK);
  }
}

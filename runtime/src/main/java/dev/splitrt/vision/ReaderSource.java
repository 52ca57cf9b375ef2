package dev.splitrt.vision;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Turns a {@link FrameReader} into a {@link FrameSource}: numbers frames from 0, stamps the capture
 * time when a frame has been read, repeats a finite reader ({@code loop}) and paces it like a camera
 * ({@code fps}). A paced source that falls more than one period behind restarts its schedule instead
 * of bursting to catch up, as a camera would.
 */
final class ReaderSource implements FrameSource {
  private final FrameReader reader;
  private final int passes;          // 0 = forever
  private final long periodNanos;    // 0 = not paced
  private final Clock clock;
  private long sequence;
  private int pass = 1;
  private long nextDueNanos;
  private boolean started;
  private boolean ended;
  private boolean closed;

  ReaderSource(FrameReader reader, int passes, double fps, Clock clock) {
    this.reader = reader;
    this.passes = passes;
    this.periodNanos = fps > 0 ? Math.max(1L, Math.round(1e9 / fps)) : 0L;
    this.clock = clock;
  }

  @Override
  public Optional<Frame> next() throws IOException {
    if (closed) throw new IllegalStateException(describe() + ": the source was closed");
    if (ended) return Optional.empty();
    if (periodNanos > 0) pace();
    Mat m = reader.read();
    while (m == null && (passes == 0 || pass < passes)) {
      reader.rewind();
      pass++;
      m = reader.read();
      if (m == null) break;  // an empty finite source: looping it would spin forever
    }
    if (m == null) {
      ended = true;
      return Optional.empty();
    }
    return Optional.of(new Frame(sequence++, epochMicros(clock.instant()), m));
  }

  private void pace() throws InterruptedIOException {
    long now = System.nanoTime();
    if (!started || now - nextDueNanos > periodNanos) {
      started = true;
      nextDueNanos = now;
    }
    while ((now = System.nanoTime()) < nextDueNanos) {
      LockSupport.parkNanos(nextDueNanos - now);
      if (Thread.interrupted()) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(describe() + ": interrupted while pacing");
      }
    }
    nextDueNanos += periodNanos;
  }

  static long epochMicros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
  }

  @Override
  public boolean live() {
    return reader.live() || periodNanos > 0;
  }

  @Override
  public String describe() {
    StringBuilder b = new StringBuilder(reader.describe());
    if (passes != 1) b.append(passes == 0 ? ", looped forever" : ", looped " + passes + " times");
    if (periodNanos > 0) b.append(", paced at ").append(1e9 / periodNanos).append(" fps");
    return b.toString();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      reader.close();
    }
  }
}

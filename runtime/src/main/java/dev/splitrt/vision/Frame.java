package dev.splitrt.vision;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;

import org.bytedeco.opencv.opencv_core.Mat;

/**
 * One captured picture with the facts the wire needs (sequence number, capture time), so a frame
 * can be traced from the camera to the tail runner's result.
 *
 * <p>Ownership: a frame owns its native BGR {@code 8UC3} {@link Mat}; nothing else holds it. The
 * {@link FrameSource} hands each frame over to the caller, who must {@link #close()} it when done
 * (the pixels are native memory, released at once, not by the garbage collector). {@link #bgr()}
 * lends the Mat: do not release, resize or keep it beyond the frame's life. {@link #close()} is
 * idempotent; any accessor of the pixels after it throws {@link IllegalStateException}.
 */
public final class Frame implements AutoCloseable {
  private final long sequence;
  private final long captureEpochMicros;
  private final int width;
  private final int height;
  private Mat bgr;

  /** Takes ownership of {@code bgr}, which must be a non-empty {@code 8UC3} BGR image. */
  Frame(long sequence, long captureEpochMicros, Mat bgr) {
    if (bgr == null || bgr.empty() || bgr.type() != CV_8UC3) {
      String what = bgr == null ? "null" : bgr.empty() ? "empty" : "type " + bgr.type();
      if (bgr != null) release(bgr);
      throw new IllegalArgumentException(
          "frame " + sequence + ": expected a non-empty BGR 8UC3 Mat (type " + CV_8UC3 + "), got " + what);
    }
    this.sequence = sequence;
    this.captureEpochMicros = captureEpochMicros;
    this.width = bgr.cols();
    this.height = bgr.rows();
    this.bgr = bgr;
  }

  /** Position in its source, from 0, increasing by one per frame (loops continue counting). */
  public long sequence() {
    return sequence;
  }

  /** Wall-clock time (microseconds since the Unix epoch) at which the frame was read. */
  public long captureEpochMicros() {
    return captureEpochMicros;
  }

  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  /** The pixels, BGR 8UC3, still owned by this frame (see the class comment). */
  public synchronized Mat bgr() {
    if (bgr == null) {
      throw new IllegalStateException("frame " + sequence + " was closed; read its pixels before close()");
    }
    return bgr;
  }

  /** Releases the native pixels now; calling it again does nothing. */
  @Override
  public synchronized void close() {
    if (bgr != null) {
      release(bgr);
      bgr = null;
    }
  }

  @Override
  public String toString() {
    return "Frame[" + sequence + ", " + width + "x" + height + ", t=" + captureEpochMicros + "us]";
  }

  static void release(Mat m) {
    m.release();
    m.close();
  }
}

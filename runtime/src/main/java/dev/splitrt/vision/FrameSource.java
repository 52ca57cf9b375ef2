package dev.splitrt.vision;

import java.io.IOException;
import java.util.Optional;

/**
 * Where frames come from (image folder, MJPEG AVI, V4L2 camera, raw frames on a pipe), behind one
 * pull interface so the edge pipeline does not care. Open one with {@link FrameSources#open}.
 *
 * <p>Not thread-safe: one capture thread calls {@link #next()}. Each returned {@link Frame} belongs
 * to the caller, who closes it. Closing the source does not close frames already handed out.
 */
public interface FrameSource extends AutoCloseable {

  /** The next frame, or empty at the end of the stream; live sources block until a frame arrives. */
  Optional<Frame> next() throws IOException;

  /**
   * True for sources that produce frames at their own pace (camera, pipe, a file paced with
   * {@code ?fps=}): the edge drops the oldest frames when it falls behind. False for files read as
   * fast as the consumer asks (back-pressure, nothing dropped).
   */
  boolean live();

  /** One line for logs: what is read, its size, and the options in force. */
  String describe();

  /** Releases the device, file or stream; idempotent. */
  @Override
  void close();
}

package dev.splitrt.cli;

import dev.splitrt.vision.Frame;
import dev.splitrt.vision.FrameSource;
import java.io.IOException;
import java.util.Optional;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.global.opencv_imgcodecs;

/**
 * The demo's source wrapper: stops after {@code limit} frames and measures what each frame would
 * cost as a JPEG (q = 90), the usual alternative to sending features. Demo-only: the edge daemon
 * never pays for this encode.
 */
final class JpegSizeSource implements FrameSource {
  private final FrameSource inner;
  private final long limit;
  private final BytePointer jpeg = new BytePointer();
  private final IntPointer params = new IntPointer(opencv_imgcodecs.IMWRITE_JPEG_QUALITY, 90);
  private long count;
  private long jpegBytes;

  JpegSizeSource(FrameSource inner, long limit) {
    this.inner = inner;
    this.limit = limit;
  }

  @Override
  public Optional<Frame> next() throws IOException {
    if (count >= limit) return Optional.empty();
    Optional<Frame> f = inner.next();
    if (f.isPresent()) {
      count++;
      opencv_imgcodecs.imencode(".jpg", f.get().bgr(), jpeg, params);
      jpegBytes += jpeg.limit() - jpeg.position();
    }
    return f;
  }

  double meanJpegBytes() {
    return count == 0 ? 0 : (double) jpegBytes / count;
  }

  @Override
  public boolean live() {
    return inner.live();
  }

  @Override
  public String describe() {
    return inner.describe() + " (first " + limit + " frames)";
  }

  @Override
  public void close() {
    inner.close();
    jpeg.close();
    params.close();
  }
}

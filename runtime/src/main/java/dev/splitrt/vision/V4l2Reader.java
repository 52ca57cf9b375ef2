package dev.splitrt.vision;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_PROP_FPS;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_PROP_FRAME_HEIGHT;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_PROP_FRAME_WIDTH;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_V4L2;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_videoio.VideoCapture;

/**
 * A V4L2 camera (USB/UVC webcams, V4L2 capture nodes) through OpenCV's V4L2 backend, which delivers
 * BGR. A Jetson CSI camera goes through libargus, not V4L2: feed it with GStreamer into a
 * {@code pipe:} source instead (see {@link FrameSources}).
 */
final class V4l2Reader implements FrameReader {
  static final String LIST_HINT = "list the cameras with `v4l2-ctl --list-devices` (Debian/Ubuntu package v4l-utils)";

  private final Path device;
  private final VideoCapture cap;
  private final String description;
  private long delivered;
  private boolean closed;

  /** width, height: 0 = the camera's default; fps: 0 = the camera's default. */
  V4l2Reader(Path device, int width, int height, double fps) throws IOException {
    if (!Files.exists(device)) {
      throw new NoSuchFileException(device.toString(), null,
          "no such V4L2 device: plug the camera in or pick another /dev/videoN; " + LIST_HINT);
    }
    this.device = device;
    this.cap = new VideoCapture();
    if (!cap.open(device.toString(), CAP_V4L2)) {
      cap.close();
      throw new IOException(device + ": cannot be opened as a V4L2 capture device; check that it is a video capture"
          + " node (a camera often also exposes a metadata node), that no other process holds it, and that this user"
          + " may read it (group 'video'); " + LIST_HINT);
    }
    if (width > 0) cap.set(CAP_PROP_FRAME_WIDTH, width);
    if (height > 0) cap.set(CAP_PROP_FRAME_HEIGHT, height);
    if (fps > 0) cap.set(CAP_PROP_FPS, fps);
    int w = (int) cap.get(CAP_PROP_FRAME_WIDTH);
    int h = (int) cap.get(CAP_PROP_FRAME_HEIGHT);
    double f = cap.get(CAP_PROP_FPS);
    String asked = (width > 0 || height > 0 || fps > 0)
        ? " (asked " + (width > 0 ? width : "default") + "x" + (height > 0 ? height : "default")
            + (fps > 0 ? " @ " + fps + " fps" : "") + ")"
        : "";
    this.description = "v4l2 camera " + device + " " + w + "x" + h + " @ " + f + " fps" + asked;
  }

  @Override
  public Mat read() throws IOException {
    if (closed) return null;
    Mat m = new Mat();
    if (!cap.read(m) || m.empty()) {
      Frame.release(m);
      throw new IOException(device + ": the camera stopped delivering frames after " + delivered
          + " frames (unplugged, or the driver failed); reopen the source");
    }
    if (m.type() != CV_8UC3) {
      int type = m.type();
      Frame.release(m);
      throw new IOException(device + ": the camera delivered OpenCV type " + type + ", expected BGR 8UC3");
    }
    delivered++;
    return m;
  }

  @Override
  public void rewind() {
    throw new UnsupportedOperationException(device + ": a camera cannot be rewound");
  }

  @Override
  public boolean live() {
    return true;
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      cap.release();
      cap.close();
    }
  }
}

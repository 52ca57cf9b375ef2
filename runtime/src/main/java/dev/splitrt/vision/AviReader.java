package dev.splitrt.vision;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_OPENCV_MJPEG;
import static org.bytedeco.opencv.global.opencv_videoio.CAP_PROP_FRAME_COUNT;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_videoio.VideoCapture;

/**
 * An MJPEG AVI file through OpenCV's built-in reader ({@code CAP_OPENCV_MJPEG}). The OpenCV build we
 * ship has neither FFmpeg nor GStreamer, so no other container or codec can be opened.
 */
final class AviReader implements FrameReader {
  static final String CONVERT_HINT = "convert it with: ffmpeg -i IN -c:v mjpeg -q:v 3 -an OUT.avi";

  private final Path file;
  private final VideoCapture cap;
  private long frameCount;
  private boolean ended;

  AviReader(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such video file; check the path");
    }
    this.file = file;
    this.cap = new VideoCapture();
    open();
  }

  private void open() throws IOException {
    if (!cap.open(file.toString(), CAP_OPENCV_MJPEG)) {
      throw new IOException(file + ": OpenCV's MJPEG reader cannot open it (only MJPEG in an AVI container can be"
          + " read: this OpenCV build has no FFmpeg or GStreamer); " + CONVERT_HINT);
    }
    frameCount = (long) cap.get(CAP_PROP_FRAME_COUNT);
    ended = false;
  }

  @Override
  public Mat read() throws IOException {
    if (ended) return null;
    Mat m = new Mat();
    if (!cap.read(m) || m.empty()) {
      Frame.release(m);
      ended = true;
      return null;
    }
    if (m.type() != CV_8UC3) {
      int type = m.type();
      Frame.release(m);
      throw new IOException(file + ": decoded a frame of OpenCV type " + type + ", expected BGR 8UC3; " + CONVERT_HINT);
    }
    return m;
  }

  @Override
  public void rewind() throws IOException {
    cap.release();
    open();
  }

  @Override
  public boolean live() {
    return false;
  }

  @Override
  public String describe() {
    return "MJPEG AVI " + file + " (" + frameCount + " frames)";
  }

  @Override
  public void close() {
    ended = true;
    cap.release();
    cap.close();
  }
}

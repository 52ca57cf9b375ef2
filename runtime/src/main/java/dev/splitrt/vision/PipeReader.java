package dev.splitrt.vision;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_GRAY2BGR;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_RGB2BGR;
import static org.bytedeco.opencv.global.opencv_imgproc.cvtColor;

import java.io.IOException;
import java.io.InputStream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Raw frames back to back on a byte stream: exactly {@code width*height*channels} bytes each, rows
 * top to bottom, no header. The frame buffer and, for rgb/gray, the staging Mat are allocated once;
 * each frame gets its own BGR Mat (the {@link Frame} owns it).
 */
final class PipeReader implements FrameReader {

  /** Pixel layouts a producer may write. */
  enum Format {
    BGR(3), RGB(3), GRAY(1);

    final int channels;

    Format(int channels) {
      this.channels = channels;
    }
  }

  private final InputStream in;
  private final boolean closeStream;
  private final String name;
  private final int width;
  private final int height;
  private final Format format;
  private final byte[] buffer;
  private final Mat staging;
  private final BytePointer stagingData;
  private long frames;
  private boolean closed;

  PipeReader(InputStream in, boolean closeStream, String name, int width, int height, Format format) {
    long bytes = (long) width * height * format.channels;
    if (bytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(name + ": " + width + "x" + height + " " + format
          + " frames of " + bytes + " bytes are too large; the limit is 2 GiB per frame");
    }
    this.in = in;
    this.closeStream = closeStream;
    this.name = name;
    this.width = width;
    this.height = height;
    this.format = format;
    this.buffer = new byte[(int) bytes];
    if (format == Format.BGR) {
      this.staging = null;
      this.stagingData = null;
    } else {
      this.staging = new Mat(height, width, format == Format.GRAY ? CV_8UC1 : CV_8UC3);
      this.stagingData = staging.data();
    }
  }

  @Override
  public Mat read() throws IOException {
    if (closed) return null;
    int n = buffer.length;
    int got = 0;
    while (got < n) {
      int r = in.read(buffer, got, n - got);
      if (r < 0) break;
      got += r;
    }
    if (got == 0) return null;
    if (got < n) {
      throw new IOException(name + ": partial last frame: " + got + " of " + n + " bytes (" + width + "x" + height
          + " " + format.name().toLowerCase() + " = " + format.channels + " bytes per pixel) after " + frames
          + " whole frames; the writer stopped mid-frame, or width/height/format do not match what it writes");
    }
    Mat m = new Mat(height, width, CV_8UC3);
    if (format == Format.BGR) {
      BytePointer data = m.data();
      data.put(buffer, 0, n);
      data.close();
    } else {
      stagingData.put(buffer, 0, n);
      cvtColor(staging, m, format == Format.GRAY ? COLOR_GRAY2BGR : COLOR_RGB2BGR);
    }
    frames++;
    return m;
  }

  @Override
  public void rewind() {
    throw new UnsupportedOperationException(name + ": a pipe cannot be rewound");
  }

  @Override
  public boolean live() {
    return true;
  }

  @Override
  public String describe() {
    return "pipe " + name + " " + width + "x" + height + " " + format.name().toLowerCase();
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (staging != null) Frame.release(staging);
    if (closeStream) {
      try {
        in.close();
      } catch (IOException ignored) {
        // The stream is being abandoned; nothing useful can be done with a failing close.
      }
    }
  }
}

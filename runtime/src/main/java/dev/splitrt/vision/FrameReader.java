package dev.splitrt.vision;

import java.io.IOException;
import org.bytedeco.opencv.opencv_core.Mat;

/** One kind of source, without sequencing, looping or pacing (those live in {@link ReaderSource}). */
interface FrameReader extends AutoCloseable {

  /** A new BGR 8UC3 Mat the caller then owns, or null at the end of the stream. */
  Mat read() throws IOException;

  /** Starts again from the first frame; only called on finite readers. */
  void rewind() throws IOException;

  /** True when the reader produces frames at its own pace (camera, pipe). */
  boolean live();

  String describe();

  @Override
  void close();
}

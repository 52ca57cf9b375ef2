package dev.splitrt.cli;

import dev.splitrt.tail.Detections;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;
import org.bytedeco.opencv.opencv_core.Scalar;

/** Draws detections on a frame and writes it as PNG: what a person looks at to trust the numbers. */
final class Annotator {
  private Annotator() {}

  static void drawDetections(Path image, Detections detections, double minScore, Path png) throws IOException {
    try (Mat m = opencv_imgcodecs.imread(image.toString(), opencv_imgcodecs.IMREAD_COLOR)) {
      if (m.empty()) throw new IOException(image + ": cannot be read as an image");
      for (Detections.Box b : detections.boxes()) {
        if (b.score() < minScore) continue;
        Scalar colour = colour(b.label());
        try (Point p1 = new Point((int) Math.round(b.x1()), (int) Math.round(b.y1()));
             Point p2 = new Point((int) Math.round(b.x2()), (int) Math.round(b.y2()));
             Point text = new Point((int) Math.round(b.x1()) + 2, Math.max(10, (int) Math.round(b.y1()) - 3))) {
          opencv_imgproc.rectangle(m, p1, p2, colour, 2, opencv_imgproc.LINE_8, 0);
          opencv_imgproc.putText(m, String.format(Locale.ROOT, "%s %.2f", b.name(), b.score()), text, opencv_imgproc.FONT_HERSHEY_SIMPLEX,
              0.4, colour, 1, opencv_imgproc.LINE_AA, false);
        }
      }
      if (!opencv_imgcodecs.imwrite(png.toString(), m)) throw new IOException(png + ": cannot be written");
    }
  }

  private static Scalar colour(int label) {
    int[][] palette = {{255, 56, 56}, {255, 157, 151}, {255, 112, 31}, {255, 178, 29}, {207, 210, 49}, {72, 249, 10}, {146, 204, 23},
        {61, 219, 134}, {26, 147, 52}, {0, 212, 187}};
    int[] c = palette[Math.floorMod(label, palette.length)];
    return new Scalar(c[2], c[1], c[0], 0); // BGR
  }
}

package dev.splitrt.tail;

import java.util.List;
import java.util.Objects;

/**
 * A detector's answer for one frame after decoding and NMS: boxes in pixels of the source frame
 * (not of the network input), best score first, so they can be drawn on or compared with the
 * camera image directly.
 */
public record Detections(List<Box> boxes) implements Prediction {

  public Detections {
    boxes = List.copyOf(Objects.requireNonNull(boxes, "boxes"));
  }

  /**
   * One box: corners {@code (x1, y1)} top-left and {@code (x2, y2)} bottom-right in source-frame
   * pixels, the class index in the manifest's {@code labels}, its name and the sigmoid score.
   */
  public record Box(double x1, double y1, double x2, double y2, int label, String name, double score) {}
}

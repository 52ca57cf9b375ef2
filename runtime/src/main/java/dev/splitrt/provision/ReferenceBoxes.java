package dev.splitrt.provision;

import dev.splitrt.model.ModelManifest;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Postprocessor;
import dev.splitrt.tail.Prediction;
import dev.splitrt.vision.Preprocessor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/** The confident boxes (score >= 0.5) the reference tail output decodes to, in model-input pixels. */
final class ReferenceBoxes {
  private ReferenceBoxes() {}

  static List<double[]> of(ModelManifest mf, float[] raw) {
    Prediction p = Postprocessor.forModel(mf, false).apply(FloatBuffer.wrap(raw),
        Preprocessor.transformFor(mf.input(), mf.input().width(), mf.input().height()));
    List<double[]> out = new ArrayList<>();
    if (p instanceof Detections d) {
      for (Detections.Box b : d.boxes()) if (b.score() >= 0.5) out.add(new double[] {b.x1(), b.y1(), b.x2(), b.y2(), b.label()});
    }
    return out;
  }

  static double iou(double[] a, double[] b) {
    double iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    double ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    double inter = iw * ih;
    double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return union <= 0 ? 0 : inter / union;
  }
}

package dev.splitrt.tail;

import dev.splitrt.model.ModelManifest;
import java.util.Arrays;
import java.util.List;

/** Reads and checks the manifest fields post-processing depends on; builds the matching implementation. */
final class PostprocessorFactory {
  private PostprocessorFactory() {}

  static Postprocessor postprocessor(ModelManifest m, boolean evaluation) {
    if (m == null) throw new IllegalArgumentException("manifest is null; load it with ModelRegistry or Yaml.read");
    String where = "model.yaml of '" + m.id() + "'";
    ModelManifest.Postprocess p = m.postprocess();
    if (p == null) throw new IllegalArgumentException(where + ": no postprocess section; add one as models/README.md shows");
    List<String> labels = m.labels();
    if (labels == null || labels.isEmpty()) {
      throw new IllegalArgumentException(where + ": labels is missing or empty; list one name per class");
    }
    int[] out = outputDims(m, where);
    String kind = p.kind();
    if ("classification".equals(kind)) return classification(where, p, labels, out);
    if ("detection".equals(kind)) return detection(where, m, p, labels, out, evaluation);
    throw new IllegalArgumentException(where + ": postprocess.kind is '" + kind + "'; supported: classification, detection");
  }

  private static int[] outputDims(ModelManifest m, String where) {
    ModelManifest.Part part = m.tail() != null ? m.tail() : m.full();
    if (part == null || part.output() == null || part.output().shape() == null) {
      throw new IllegalArgumentException(where + ": tail.output.shape is missing; the post-processing needs the raw output shape");
    }
    return part.output().dims();
  }

  private static Postprocessor classification(String where, ModelManifest.Postprocess p, List<String> labels, int[] out) {
    if (!"softmax".equals(p.activation())) {
      throw new IllegalArgumentException(where + ": postprocess.activation is '" + p.activation() + "'; supported: softmax");
    }
    int classes = labels.size();
    if (p.topK() == null || p.topK() < 1 || p.topK() > classes) {
      throw new IllegalArgumentException(
          where + ": postprocess.top_k is " + p.topK() + "; it must be 1.." + classes + " (the number of labels)");
    }
    int n = 1;
    for (int d : out) n = Math.multiplyExact(n, d);
    if (n != classes) {
      throw new IllegalArgumentException(where + ": the raw output has " + n + " values but labels has " + classes
          + " names; they must agree (output shape [1, C])");
    }
    return new SoftmaxTopK(labels, p.topK());
  }

  private static Postprocessor detection(
      String where, ModelManifest m, ModelManifest.Postprocess p, List<String> labels, int[] out, boolean evaluation) {
    if (!"ltrb_anchor_free".equals(p.decode())) {
      throw new IllegalArgumentException(where + ": postprocess.decode is '" + p.decode() + "'; supported: ltrb_anchor_free");
    }
    if (!"sigmoid".equals(p.scoreActivation())) {
      throw new IllegalArgumentException(
          where + ": postprocess.score_activation is '" + p.scoreActivation() + "'; supported: sigmoid");
    }
    ModelManifest.Input in = m.input();
    if (in == null || in.width() < 1 || in.height() < 1) {
      throw new IllegalArgumentException(where + ": input.width and input.height must be positive");
    }
    List<Integer> strides = p.strides();
    if (strides == null || strides.isEmpty()) {
      throw new IllegalArgumentException(where + ": postprocess.strides is missing; e.g. [8, 16, 32]");
    }
    int[] s = new int[strides.size()];
    long anchors = 0;
    for (int i = 0; i < s.length; i++) {
      Integer v = strides.get(i);
      if (v == null || v < 1 || in.width() % v != 0 || in.height() % v != 0) {
        throw new IllegalArgumentException(where + ": postprocess.strides[" + i + "] is " + v
            + "; each stride must be positive and divide input.width " + in.width() + " and input.height " + in.height());
      }
      s[i] = v;
      anchors += (long) (in.width() / v) * (in.height() / v);
    }
    int classes = labels.size();
    if (out.length != 3 || out[0] != 1 || out[1] != anchors || out[2] != 4 + classes) {
      throw new IllegalArgumentException(where + ": the raw output shape is " + Arrays.toString(out)
          + " but the strides and labels give [1, " + anchors + ", " + (4 + classes) + "] (anchors, l t r b + one logit per class)");
    }
    Double threshold = evaluation ? p.evalScoreThreshold() : p.scoreThreshold();
    String thresholdField = evaluation ? "eval_score_threshold" : "score_threshold";
    if (threshold == null || !(threshold >= 0 && threshold < 1)) {
      throw new IllegalArgumentException(where + ": postprocess." + thresholdField + " is " + threshold + "; it must be in [0, 1)");
    }
    if (p.iouThreshold() == null || !(p.iouThreshold() >= 0 && p.iouThreshold() <= 1)) {
      throw new IllegalArgumentException(where + ": postprocess.iou_threshold is " + p.iouThreshold() + "; it must be in [0, 1]");
    }
    if (p.maxDetections() == null || p.maxDetections() < 1) {
      throw new IllegalArgumentException(where + ": postprocess.max_detections is " + p.maxDetections() + "; it must be >= 1");
    }
    return new AnchorFreeDetector(
        in.width(), in.height(), s, labels, threshold, p.iouThreshold(), p.maxDetections());
  }
}

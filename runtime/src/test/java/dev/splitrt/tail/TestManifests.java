package dev.splitrt.tail;

import dev.splitrt.config.ConfigException;
import dev.splitrt.config.Yaml;
import dev.splitrt.model.ModelManifest;

/** Small hand-made manifests for post-processing tests. */
final class TestManifests {
  private TestManifests() {}

  /** A 32x32 detector with strides 8, 16, 32 (16 + 4 + 1 = 21 anchors) and 3 classes: output [1, 21, 7]. */
  static ModelManifest detector(double scoreThreshold, double evalScoreThreshold, double iouThreshold, int maxDetections) {
    return parse("""
        schema: 1
        id: tiny-det
        family: leyolo
        task: detection
        input: {width: 32, height: 32, color: rgb, resize: letterbox, pad_value: 114, scale: 0.00392156862745098,
                mean: [0.0, 0.0, 0.0], std: [1.0, 1.0, 1.0], layout: nchw}
        tail: {file: tail.onnx, sha256: x, input: {name: bottleneck, shape: [1, 8, 4, 4]},
               output: {name: detections, shape: [1, 21, 7]}}
        labels: [cat, dog, bird]
        postprocess: {kind: detection, decode: ltrb_anchor_free, strides: [8, 16, 32], score_activation: sigmoid,
                      score_threshold: %s, eval_score_threshold: %s, iou_threshold: %s, max_detections: %d}
        """.formatted(scoreThreshold, evalScoreThreshold, iouThreshold, maxDetections));
  }

  /** A classifier over 4 labels (output [1, 4]) with the given top_k. */
  static ModelManifest classifier(int topK) {
    return parse("""
        schema: 1
        id: tiny-cls
        family: bottlefit
        task: classification
        tail: {file: tail.onnx, sha256: x, input: {name: bottleneck, shape: [1, 8, 4, 4]},
               output: {name: logits, shape: [1, 4]}}
        labels: [zero, one, two, three]
        postprocess: {kind: classification, activation: softmax, top_k: %d}
        """.formatted(topK));
  }

  static ModelManifest parse(String yaml) {
    try {
      return Yaml.parse(yaml, "test manifest", ModelManifest.class);
    } catch (ConfigException e) {
      throw new IllegalStateException(e);
    }
  }
}

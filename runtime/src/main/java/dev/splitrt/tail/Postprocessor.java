package dev.splitrt.tail;

import dev.splitrt.model.ModelManifest;
import dev.splitrt.vision.ImageTransform;
import java.nio.FloatBuffer;

/**
 * Turns a model's raw output tensor into a {@link Prediction}, exactly as the model card's recipe
 * did when it measured the card's figures, so that the runtime reproduces them. An instance keeps
 * preallocated work buffers: use one per pipeline thread.
 */
public interface Postprocessor {

  /**
   * Reads the raw output at absolute indices {@code [0, n)} of {@code rawOutput} (n = the element
   * count of the manifest's tail output; position and limit are not changed) and maps detections
   * back to the source frame through {@code transform} (unused by classifiers, may be null there).
   */
  Prediction apply(FloatBuffer rawOutput, ImageTransform transform);

  /**
   * The post-processing the manifest's {@code postprocess} section declares. {@code evaluation}
   * selects the detector's {@code eval_score_threshold} (used for mAP) instead of
   * {@code score_threshold} (published results). Throws IllegalArgumentException naming the field
   * when the manifest asks for something that is not supported or is inconsistent.
   */
  static Postprocessor forModel(ModelManifest m, boolean evaluation) {
    return PostprocessorFactory.postprocessor(m, evaluation);
  }
}

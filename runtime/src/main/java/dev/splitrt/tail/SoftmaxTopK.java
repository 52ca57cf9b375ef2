package dev.splitrt.tail;

import dev.splitrt.vision.ImageTransform;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Softmax over the logits in double precision (shifted by the maximum, so large logits do not
 * overflow), then the {@code k} most probable classes, ties broken by the lower class index.
 * Not thread-safe: it reuses its probability buffer.
 */
final class SoftmaxTopK implements Postprocessor {
  private final List<String> labels;
  private final int k;
  private final double[] prob;
  private final boolean[] taken;

  SoftmaxTopK(List<String> labels, int k) {
    this.labels = List.copyOf(labels);
    this.k = k;
    this.prob = new double[labels.size()];
    this.taken = new boolean[labels.size()];
  }

  @Override
  public Prediction apply(FloatBuffer rawOutput, ImageTransform transform) {
    int n = prob.length;
    if (rawOutput.limit() < n) {
      throw new IllegalArgumentException("raw classifier output has " + rawOutput.limit() + " values, expected " + n
          + " logits (one per label)");
    }
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      float x = rawOutput.get(i);
      if (!Float.isFinite(x)) {
        throw new IllegalArgumentException("logit " + i + " (" + labels.get(i) + ") is " + x
            + "; the model produced a non-finite output");
      }
      max = Math.max(max, x);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      prob[i] = Math.exp(rawOutput.get(i) - max);
      sum += prob[i];
    }
    for (int i = 0; i < n; i++) {
      prob[i] /= sum;
      taken[i] = false;
    }
    List<Classification.Scored> top = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      int best = -1;
      for (int i = 0; i < n; i++) {
        if (!taken[i] && (best < 0 || prob[i] > prob[best])) best = i;
      }
      taken[best] = true;
      top.add(new Classification.Scored(best, labels.get(best), prob[best]));
    }
    return new Classification(top);
  }
}

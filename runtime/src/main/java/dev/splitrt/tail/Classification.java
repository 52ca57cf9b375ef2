package dev.splitrt.tail;

import java.util.List;
import java.util.Objects;

/**
 * A classifier's answer for one frame: the {@code top_k} classes of the manifest, best first, with
 * their softmax probabilities, so a consumer never has to know the model's label order.
 */
public record Classification(List<Scored> topK) implements Prediction {

  public Classification {
    topK = List.copyOf(Objects.requireNonNull(topK, "topK"));
  }

  /** One class: its index in the manifest's {@code labels}, its name and its probability in [0, 1]. */
  public record Scored(int label, String name, double score) {}
}

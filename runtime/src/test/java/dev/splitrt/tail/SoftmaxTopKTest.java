package dev.splitrt.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class SoftmaxTopKTest {

  private static Classification run(int topK, float... logits) {
    return (Classification) Postprocessor.forModel(TestManifests.classifier(topK), false).apply(FloatBuffer.wrap(logits), null);
  }

  @Test
  void softmaxMatchesHandComputedProbabilities() {
    Classification c = run(4, 1f, 2f, 3f, 0f);
    double z = Math.exp(-2) + Math.exp(-1) + 1 + Math.exp(-3);
    assertThat(c.topK()).extracting(Classification.Scored::label).containsExactly(2, 1, 0, 3);
    assertThat(c.topK()).extracting(Classification.Scored::name).containsExactly("two", "one", "zero", "three");
    assertThat(c.topK().get(0).score()).isCloseTo(1 / z, within(1e-15));
    assertThat(c.topK().get(1).score()).isCloseTo(Math.exp(-1) / z, within(1e-15));
    assertThat(c.topK().get(3).score()).isCloseTo(Math.exp(-3) / z, within(1e-15));
    assertThat(c.topK().stream().mapToDouble(Classification.Scored::score).sum()).isCloseTo(1.0, within(1e-15));
  }

  @Test
  void largeLogitsDoNotOverflow() {
    Classification c = run(2, 1000f, 1000f, 0f, -1000f);
    assertThat(c.topK().get(0).score()).isEqualTo(0.5);
    assertThat(c.topK().get(1).score()).isEqualTo(0.5);
  }

  @Test
  void returnsTopKOfTheManifestWithTiesToTheLowerIndex() {
    Classification c = run(3, 0.5f, 2f, 2f, 2f);
    assertThat(c.topK()).extracting(Classification.Scored::label).containsExactly(1, 2, 3);
    assertThat(run(1, 0.5f, 2f, 2f, 2f).topK()).extracting(Classification.Scored::label).containsExactly(1);
  }

  @Test
  void readsAbsoluteIndicesWhateverThePosition() {
    FloatBuffer b = FloatBuffer.wrap(new float[] {0f, 0f, 5f, 0f});
    b.position(3);
    Classification c = (Classification) Postprocessor.forModel(TestManifests.classifier(1), false).apply(b, null);
    assertThat(c.topK().get(0).label()).isEqualTo(2);
    assertThat(b.position()).isEqualTo(3);
  }

  @Test
  void rejectsNonFiniteLogitsNamingTheClass() {
    assertThatThrownBy(() -> run(1, 0f, Float.NaN, 0f, 0f))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logit 1 (one)");
  }

  @Test
  void rejectsShortOutput() {
    assertThatThrownBy(() -> run(1, 0f, 1f))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected 4 logits");
  }

  @Test
  void rejectsTopKLargerThanTheLabels() {
    assertThatThrownBy(() -> Postprocessor.forModel(TestManifests.classifier(5), false))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("postprocess.top_k is 5; it must be 1..4");
  }
}

package dev.splitrt.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.splitrt.vision.ImageTransform;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class AnchorFreeDetectorTest {
  private static final int ANCHORS = 21;
  private static final int ROW = 7;
  private static final ImageTransform IDENTITY = new ImageTransform(32, 32, 1, 1, 0, 0);

  /** Raw output [1, 21, 7] with every logit far below any threshold. */
  private static final class Raw {
    final float[] v = new float[ANCHORS * ROW];

    Raw() {
      for (int a = 0; a < ANCHORS; a++) for (int c = 0; c < 3; c++) v[a * ROW + 4 + c] = -30f;
    }

    Raw ltrb(int anchor, float l, float t, float r, float b) {
      v[anchor * ROW] = l;
      v[anchor * ROW + 1] = t;
      v[anchor * ROW + 2] = r;
      v[anchor * ROW + 3] = b;
      return this;
    }

    Raw logit(int anchor, int cls, float x) {
      v[anchor * ROW + 4 + cls] = x;
      return this;
    }

    FloatBuffer buffer() {
      return FloatBuffer.wrap(v);
    }
  }

  private static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  private static List<Detections.Box> detect(Postprocessor p, Raw raw) {
    return ((Detections) p.apply(raw.buffer(), IDENTITY)).boxes();
  }

  @Test
  void decodesOneKnownAnchorOfEachLevel() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    // stride 8, row-major: anchor 6 is (x 2, y 1), centre (20, 12)
    // stride 16 starts at anchor 16: anchor 18 is (x 0, y 1), centre (8, 24)
    Raw raw = new Raw().ltrb(6, 1f, 0.5f, 0.25f, 2f).logit(6, 1, 2f)
        .ltrb(18, 0.25f, 0.5f, 0.5f, 0.25f).logit(18, 2, 1f);
    assertThat(detect(p, raw)).containsExactly(
        new Detections.Box(12, 8, 22, 28, 1, "dog", sigmoid(2)),
        new Detections.Box(4, 16, 16, 28, 2, "bird", sigmoid(1)));
  }

  @Test
  void clipsBoxesToTheInput() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    // stride 32: anchor 20, centre (16, 16)
    Raw raw = new Raw().ltrb(20, 1f, 0.25f, 0.25f, 1f).logit(20, 0, 3f);
    assertThat(detect(p, raw)).extracting(b -> List.of(b.x1(), b.y1(), b.x2(), b.y2()))
        .containsExactly(List.of(0.0, 8.0, 24.0, 32.0));
  }

  @Test
  void thresholdIsStrictAndEvaluationUsesTheEvalThreshold() {
    Raw raw = new Raw().ltrb(0, 0.5f, 0.5f, 0.5f, 0.5f).logit(0, 0, 0f).logit(1, 0, -3f).ltrb(1, 0.5f, 0.5f, 0.5f, 0.5f);
    // sigmoid(0) = 0.5 exactly: not strictly greater than a 0.5 threshold
    assertThat(detect(Postprocessor.forModel(TestManifests.detector(0.5, 0.001, 0.6, 100), false), raw)).isEmpty();
    assertThat(detect(Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false), raw))
        .extracting(Detections.Box::score).containsExactly(0.5);
    assertThat(detect(Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), true), raw))
        .extracting(Detections.Box::score).containsExactly(0.5, sigmoid(-3));
  }

  @Test
  void passesALogitJustAboveTheThreshold() {
    Raw raw = new Raw().ltrb(0, 0.5f, 0.5f, 0.5f, 0.5f).logit(0, 2, 1e-6f);
    assertThat(detect(Postprocessor.forModel(TestManifests.detector(0.5, 0.001, 0.6, 100), false), raw))
        .extracting(Detections.Box::score).containsExactly(sigmoid(1e-6f));
  }

  @Test
  void suppressesOverlappingBoxesOfTheSameClassButKeepsOtherClasses() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    // anchors 5 (centre 12, 12) and 6 (centre 20, 12): boxes (4, 4, 20, 20) and (4, 4, 20, 21), IoU 16/17
    Raw raw = new Raw().ltrb(5, 1f, 1f, 1f, 1f).ltrb(6, 2f, 1f, 0f, 1.125f)
        .logit(5, 0, 2f).logit(6, 0, 1f).logit(6, 1, 0.5f);
    assertThat(detect(p, raw)).extracting(Detections.Box::label, Detections.Box::score, Detections.Box::y2)
        .containsExactly(tuple(0, sigmoid(2), 20.0), tuple(1, sigmoid(0.5), 21.0));
  }

  @Test
  void keepsABoxWhoseIouIsExactlyTheThreshold() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    // anchor 1 (centre 12, 4): (4, 0, 14, 10); anchor 0 (centre 4, 4): (4, 0, 10, 10) inside it, IoU 60/100
    Raw atThreshold = new Raw().ltrb(1, 1f, 0.5f, 0.25f, 0.75f).logit(1, 0, 2f)
        .ltrb(0, 0f, 0.5f, 0.75f, 0.75f).logit(0, 0, 1f);
    assertThat(detect(p, atThreshold)).hasSize(2);
    // (4, 0, 10.5, 10): IoU 65/100, above the threshold
    Raw above = new Raw().ltrb(1, 1f, 0.5f, 0.25f, 0.75f).logit(1, 0, 2f)
        .ltrb(0, 0f, 0.5f, 0.8125f, 0.75f).logit(0, 0, 1f);
    assertThat(detect(p, above)).extracting(Detections.Box::score).containsExactly(sigmoid(2));
  }

  @Test
  void keepsTheMaxDetectionsBestByDescendingScore() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 3), false);
    Raw raw = new Raw();
    float[] logits = {0.5f, 3f, 1f, 4f, 2f};
    for (int a = 0; a < logits.length; a++) raw.ltrb(a, 0.25f, 0.25f, 0.25f, 0.25f).logit(a, a % 3, logits[a]);
    assertThat(detect(p, raw)).extracting(Detections.Box::score).containsExactly(sigmoid(4), sigmoid(3), sigmoid(2));
  }

  @Test
  void ordersEqualScoresAsTheReferenceDoes() {
    // per class: anchor order; across classes (the reference's stable sort of its class-major list): class, then anchor
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 3), false);
    Raw raw = new Raw();
    for (int a : new int[] {0, 2, 9, 11}) raw.ltrb(a, 0.25f, 0.25f, 0.25f, 0.25f);
    raw.logit(11, 0, 1f).logit(2, 1, 1f).logit(0, 1, 1f).logit(9, 0, 1f);
    assertThat(detect(p, raw)).extracting(Detections.Box::label, Detections.Box::x1)
        .containsExactly(tuple(0, 10.0), tuple(0, 26.0), tuple(1, 2.0));
  }

  @Test
  void ordersScoresThatRoundToTheSameDoubleByAnchor() {
    // logits 37 and 40 both give sigmoid 1.0 in double: the tie goes to the lower anchor, not the larger logit
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    Raw raw = new Raw().ltrb(3, 0.25f, 0.25f, 0.25f, 0.25f).logit(3, 0, 37f)
        .ltrb(8, 0.25f, 0.25f, 0.25f, 0.25f).logit(8, 0, 40f);
    assertThat(sigmoid(37)).isEqualTo(sigmoid(40));
    assertThat(detect(p, raw)).extracting(Detections.Box::x1).containsExactly(26.0, 2.0);
  }

  @Test
  void mapsBoxesBackThroughTheLetterbox() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    // a 64x48 source letterboxed into 32x32: scale 0.5, 32x24, padded 4 rows at the top
    ImageTransform letterbox = new ImageTransform(64, 48, 0.5, 0.5, 0, 4);
    Raw raw = new Raw().ltrb(6, 1f, 0.5f, 0.25f, 2f).logit(6, 1, 2f);
    List<Detections.Box> boxes = ((Detections) p.apply(raw.buffer(), letterbox)).boxes();
    assertThat(boxes).containsExactly(new Detections.Box(24, 8, 44, 48, 1, "dog", sigmoid(2)));
  }

  @Test
  void reusesItsBuffersAcrossFrames() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), true);
    Raw busy = new Raw();
    for (int a = 0; a < ANCHORS; a++) {
      busy.ltrb(a, 0.5f, 0.5f, 0.5f, 0.5f);
      for (int c = 0; c < 3; c++) busy.logit(a, c, (a * 3 + c) % 7 - 3f);
    }
    assertThat(detect(p, busy)).isNotEmpty();
    Raw one = new Raw().ltrb(6, 1f, 0.5f, 0.25f, 2f).logit(6, 1, 2f);
    assertThat(detect(p, one)).containsExactly(new Detections.Box(12, 8, 22, 28, 1, "dog", sigmoid(2)));
  }

  @Test
  void rejectsAnOutputShapeThatDisagreesWithStridesAndLabels() {
    String yaml = """
        schema: 1
        id: bad-det
        input: {width: 32, height: 32, scale: 1.0}
        tail: {output: {name: detections, shape: [1, 20, 7]}}
        labels: [cat, dog, bird]
        postprocess: {kind: detection, decode: ltrb_anchor_free, strides: [8, 16, 32], score_activation: sigmoid,
                      score_threshold: 0.25, eval_score_threshold: 0.001, iou_threshold: 0.6, max_detections: 100}
        """;
    assertThatThrownBy(() -> Postprocessor.forModel(TestManifests.parse(yaml), false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[1, 20, 7]").hasMessageContaining("[1, 21, 7]");
  }

  @Test
  void rejectsAStrideThatDoesNotDivideTheInput() {
    String yaml = """
        schema: 1
        id: bad-det
        input: {width: 32, height: 32, scale: 1.0}
        tail: {output: {name: detections, shape: [1, 21, 7]}}
        labels: [cat, dog, bird]
        postprocess: {kind: detection, decode: ltrb_anchor_free, strides: [8, 12], score_activation: sigmoid,
                      score_threshold: 0.25, eval_score_threshold: 0.001, iou_threshold: 0.6, max_detections: 100}
        """;
    assertThatThrownBy(() -> Postprocessor.forModel(TestManifests.parse(yaml), false))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("postprocess.strides[1] is 12");
  }

  @Test
  void rejectsShortRawOutput() {
    Postprocessor p = Postprocessor.forModel(TestManifests.detector(0.25, 0.001, 0.6, 100), false);
    assertThatThrownBy(() -> p.apply(FloatBuffer.wrap(Arrays.copyOf(new Raw().v, 100)), IDENTITY))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected 147");
  }
}

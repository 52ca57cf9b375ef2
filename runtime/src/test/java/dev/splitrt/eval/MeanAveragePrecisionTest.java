package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.splitrt.tail.Detections;
import java.util.List;
import org.junit.jupiter.api.Test;

class MeanAveragePrecisionTest {

  private static Detections.Box det(double x1, double y1, double x2, double y2, int cls, double score) {
    return new Detections.Box(x1, y1, x2, y2, cls, "c" + cls, score);
  }

  private static Detections dets(Detections.Box... boxes) {
    return new Detections(List.of(boxes));
  }

  private static double[] gt(double x1, double y1, double x2, double y2, int cls) {
    return new double[] {x1, y1, x2, y2, cls};
  }

  @Test
  void perfectDetectionsScoreOne() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    m.add(dets(det(10, 10, 50, 60, 0, 0.9), det(100, 20, 140, 90, 1, 0.8)),
        List.of(gt(10, 10, 50, 60, 0), gt(100, 20, 140, 90, 1)));
    m.add(dets(det(0, 0, 20, 20, 1, 0.7)), List.of(gt(0, 0, 20, 20, 1)));
    assertThat(m.map50()).isEqualTo(1.0);
    assertThat(m.map50to95()).isEqualTo(1.0);
  }

  @Test
  void oneMissedBoxOfTwoSamplesPrecisionOneUpToRecallHalf() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    m.add(dets(det(0, 0, 10, 10, 0, 0.9)), List.of(gt(0, 0, 10, 10, 0), gt(50, 50, 60, 60, 0)));
    // recall points 0, 0.01, ..., 0.5 reached with precision 1: 51 of 101
    assertThat(m.map50()).isCloseTo(51.0 / 101, within(1e-12));
    assertThat(m.map50to95()).isCloseTo(51.0 / 101, within(1e-12));
  }

  @Test
  void aFalsePositiveCostsOnlyWhenItOutscoresTheTruePositive() {
    MeanAveragePrecision above = new MeanAveragePrecision();
    above.add(dets(det(70, 70, 90, 90, 0, 0.9), det(0, 0, 10, 10, 0, 0.8)), List.of(gt(0, 0, 10, 10, 0)));
    // cumulated precision 0/1 then 1/2, made monotone: 0.5 at every recall point
    assertThat(above.map50()).isCloseTo(0.5, within(1e-12));

    MeanAveragePrecision below = new MeanAveragePrecision();
    below.add(dets(det(70, 70, 90, 90, 0, 0.7), det(0, 0, 10, 10, 0, 0.8)), List.of(gt(0, 0, 10, 10, 0)));
    assertThat(below.map50()).isEqualTo(1.0);
  }

  @Test
  void averagesTenIouThresholds() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    // IoU 0.77: a match at 0.50 .. 0.75 (6 thresholds), none at 0.80 .. 0.95
    m.add(dets(det(0, 0, 100, 77, 0, 0.9)), List.of(gt(0, 0, 100, 100, 0)));
    assertThat(m.map50()).isEqualTo(1.0);
    assertThat(m.map50to95()).isCloseTo(0.6, within(1e-12));
  }

  @Test
  void matchesTheUnmatchedTruthOfLargestIou() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    // the first detection overlaps both truths (IoU 0.74 and 0.90) and must take the second;
    // the second detection then matches the first truth (IoU 0.54), which it could not if the first had taken it
    m.add(dets(det(1.5, 0, 11.5, 10, 0, 0.9), det(-3, 0, 7, 10, 0, 0.8)),
        List.of(gt(0, 0, 10, 10, 0), gt(2, 0, 12, 10, 0)));
    assertThat(m.map50()).isEqualTo(1.0);
  }

  @Test
  void averagesOnlyClassesWithGroundTruth() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    m.add(dets(det(0, 0, 10, 10, 0, 0.9), det(30, 30, 40, 40, 5, 0.95)),
        List.of(gt(0, 0, 10, 10, 0), gt(50, 50, 60, 60, 2)));
    // class 0: AP 1; class 2 has truth but no detection: AP 0; class 5 has no truth: not counted
    assertThat(m.map50()).isCloseTo(0.5, within(1e-12));
  }

  @Test
  void sortsDetectionsOfAllFramesByScore() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    m.add(dets(det(0, 0, 10, 10, 0, 0.6)), List.of(gt(0, 0, 10, 10, 0)));
    m.add(dets(det(0, 0, 10, 10, 0, 0.9)), List.of());
    m.add(dets(det(0, 0, 10, 10, 0, 0.3)), List.of(gt(0, 0, 10, 10, 0)));
    // by score: FP 0.9, TP 0.6, TP 0.3 -> precision 0, 1/2, 2/3; monotone 2/3 everywhere
    assertThat(m.map50()).isCloseTo(2.0 / 3, within(1e-12));
  }

  @Test
  void isNaNWithoutGroundTruth() {
    MeanAveragePrecision m = new MeanAveragePrecision();
    m.add(dets(det(0, 0, 10, 10, 0, 0.6)), List.of());
    assertThat(m.map50()).isNaN();
  }

  @Test
  void thresholdsAndRecallPointsAreNumpyLinspace() {
    // values numpy.linspace gives (numpy 2): 0.8999999999999999 and 0.35000000000000003, not 0.9 and 0.35
    double[] t = MeanAveragePrecision.linspace(0.5, 0.95, 10);
    assertThat(t).hasSize(10);
    assertThat(t[0]).isEqualTo(0.5);
    assertThat(t[8]).isEqualTo(0.8999999999999999);
    assertThat(t[9]).isEqualTo(0.95);
    double[] r = MeanAveragePrecision.linspace(0, 1, 101);
    assertThat(r).hasSize(101);
    assertThat(r[35]).isEqualTo(0.35000000000000003);
    assertThat(r[100]).isEqualTo(1.0);
  }
}

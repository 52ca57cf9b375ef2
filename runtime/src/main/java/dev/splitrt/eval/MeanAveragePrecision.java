package dev.splitrt.eval;

import dev.splitrt.tail.Detections;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;

/**
 * COCO-style mAP (101-point interpolation, no area ranges, no crowd boxes) exactly as the
 * detector's card measures it ({@code coco_map} in {@code models/recipes/leyolo.py}), so the runtime
 * can be held to the card's figures:
 * <ul>
 *   <li>per frame and class, the detections by descending score (stable), the first 100, each
 *       matched greedily to the unmatched ground-truth box of largest IoU (first such box on ties)
 *       if that IoU is at least the threshold; IoU of corner boxes with no +1 pixel convention;
 *   <li>per class, all frames' detections by descending score (stable: frame order, then the
 *       frame's order), precision made monotone (suffix maximum) and sampled at recall 0, 0.01, ...,
 *       1 (the first detection reaching that recall; 0 past the last reached recall);
 *   <li>AP averaged over the classes that have ground truth (a class with ground truth but no
 *       detection has AP 0); mAP@0.5:0.95 averages the thresholds 0.50, 0.55, ..., 0.95.
 * </ul>
 * Thresholds and recall points are computed as numpy's {@code linspace} computes them, so matches
 * exactly at a threshold fall the same way.
 */
public final class MeanAveragePrecision {
  private static final int MAX_DETS = 100;
  private static final double[] THRESHOLDS = linspace(0.5, 0.95, 10);
  private static final double[] RECALLS = linspace(0.0, 1.0, 101);

  private final TreeMap<Integer, PerClass> perClass = new TreeMap<>();

  /**
   * Adds one frame: its detections (any order; same pixel frame as the truth) and its ground-truth
   * boxes {@code [x1, y1, x2, y2, class]}, as {@link EvalLabels.Item#boxes()} gives them.
   */
  public void add(Detections predictions, List<double[]> truthBoxes) {
    for (double[] t : truthBoxes) {
      if (t.length < 5) throw new IllegalArgumentException("a truth box has " + t.length + " values; expected x1, y1, x2, y2, class");
      cls((int) t[4]).groundTruth++;
    }
    TreeMap<Integer, List<Detections.Box>> byClass = new TreeMap<>();
    for (Detections.Box b : predictions.boxes()) byClass.computeIfAbsent(b.label(), k -> new ArrayList<>()).add(b);
    for (var e : byClass.entrySet()) {
      int c = e.getKey();
      List<Detections.Box> dets = new ArrayList<>(e.getValue());
      dets.sort(Comparator.comparingDouble((Detections.Box b) -> b.score()).reversed());   // stable
      if (dets.size() > MAX_DETS) dets = dets.subList(0, MAX_DETS);
      List<double[]> truth = new ArrayList<>();
      for (double[] t : truthBoxes) if ((int) t[4] == c) truth.add(t);
      boolean[][] used = new boolean[THRESHOLDS.length][truth.size()];
      PerClass pc = cls(c);
      for (Detections.Box d : dets) {
        double[] iou = new double[truth.size()];
        for (int g = 0; g < iou.length; g++) iou[g] = iou(d, truth.get(g));
        int hits = 0;
        for (int ti = 0; ti < THRESHOLDS.length; ti++) {
          int best = -1;
          double bestIou = -1.0;
          for (int g = 0; g < iou.length; g++) {
            double v = used[ti][g] ? -1.0 : iou[g];
            if (v > bestIou) {
              bestIou = v;
              best = g;
            }
          }
          if (best >= 0 && bestIou >= Math.min(THRESHOLDS[ti], 1 - 1e-10)) {
            used[ti][best] = true;
            hits |= 1 << ti;
          }
        }
        pc.addDetection(d.score(), hits);
      }
    }
  }

  /** mAP at IoU 0.5; NaN when no ground-truth box was added. */
  public double map50() {
    return compute()[0];
  }

  /** mAP averaged over IoU 0.50, 0.55, ..., 0.95; NaN when no ground-truth box was added. */
  public double map50to95() {
    return compute()[1];
  }

  private double[] compute() {
    double sum50 = 0;
    double sumAll = 0;
    int n = 0;
    for (PerClass pc : perClass.values()) {
      if (pc.groundTruth == 0) continue;
      double[] ap = pc.averagePrecision();
      sum50 += ap[0];
      for (double v : ap) sumAll += v;
      n++;
    }
    if (n == 0) return new double[] {Double.NaN, Double.NaN};
    return new double[] {sum50 / n, sumAll / (n * THRESHOLDS.length)};
  }

  private PerClass cls(int c) {
    return perClass.computeIfAbsent(c, k -> new PerClass());
  }

  /** IoU of corner boxes, continuous coordinates (area = (x2 - x1) * (y2 - y1), no +1). */
  static double iou(Detections.Box d, double[] g) {
    double w = Math.max(Math.min(d.x2(), g[2]) - Math.max(d.x1(), g[0]), 0);
    double h = Math.max(Math.min(d.y2(), g[3]) - Math.max(d.y1(), g[1]), 0);
    double inter = w * h;
    double union = (d.x2() - d.x1()) * (d.y2() - d.y1()) + (g[2] - g[0]) * (g[3] - g[1]) - inter;
    return inter / union;
  }

  /** numpy.linspace(start, stop, num): start + i * ((stop - start) / (num - 1)), the last exactly stop. */
  static double[] linspace(double start, double stop, int num) {
    double step = (stop - start) / (num - 1);
    double[] out = new double[num];
    for (int i = 0; i < num; i++) out[i] = i * step + start;
    out[num - 1] = stop;
    return out;
  }

  /** One class's detections over all frames so far: score and the thresholds at which it is a true positive. */
  private static final class PerClass {
    long groundTruth;
    double[] scores = new double[64];
    int[] hits = new int[64];
    int size;

    void addDetection(double score, int hitMask) {
      if (size == scores.length) {
        scores = Arrays.copyOf(scores, 2 * size);
        hits = Arrays.copyOf(hits, 2 * size);
      }
      scores[size] = score;
      hits[size] = hitMask;
      size++;
    }

    double[] averagePrecision() {
      double[] ap = new double[THRESHOLDS.length];
      if (size == 0) return ap;
      Integer[] idx = new Integer[size];
      for (int i = 0; i < size; i++) idx[i] = i;
      Arrays.sort(idx, (a, b) -> Double.compare(scores[b], scores[a]));   // stable: insertion order on ties
      double[] recall = new double[size];
      double[] precision = new double[size];
      for (int ti = 0; ti < THRESHOLDS.length; ti++) {
        long tp = 0;
        for (int i = 0; i < size; i++) {
          if ((hits[idx[i]] & (1 << ti)) != 0) tp++;
          recall[i] = (double) tp / groundTruth;
          precision[i] = (double) tp / (i + 1);
        }
        for (int i = size - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
        double sum = 0;
        int i = 0;
        for (double r : RECALLS) {
          while (i < size && recall[i] < r) i++;
          if (i < size) sum += precision[i];
        }
        ap[ti] = sum / RECALLS.length;
      }
      return ap;
    }
  }
}

package dev.splitrt.tail;

import dev.splitrt.vision.ImageTransform;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Decoding of {@code ltrb_anchor_free} detector outputs {@code [1, A, 4 + C]}, thresholding,
 * per-class greedy NMS and mapping to the source frame, exactly as the recipe's reference
 * ({@code models/recipes/leyolo.py}: {@code decode_candidates_numpy}, {@code nms_numpy}) that
 * produced the card's figures:
 * <ul>
 *   <li>anchors stride by stride, each level row-major, at cell centres; boxes
 *       {@code (cx - l s, cy - t s, cx + r s, cy + b s)} in float32 like the reference, clipped to
 *       {@code [0, width] x [0, height]};
 *   <li>score = sigmoid(logit) in double; every (anchor, class) pair with score strictly above the
 *       threshold is a candidate (multi-label);
 *   <li>per class, candidates by descending score (ties: anchor index, then class); a candidate is
 *       dropped when its IoU (float32, as the reference computes it) with an already kept box of the
 *       class is strictly greater than the IoU threshold;
 *   <li>the survivors of all classes by descending score (ties: class, then anchor: the reference's
 *       stable sort of its class-major list), the first {@code max_detections} kept.
 * </ul>
 * All work arrays are allocated once (sized to anchors x classes); sorting uses primitive sorts of
 * packed keys. Not thread-safe.
 */
final class AnchorFreeDetector implements Postprocessor {
  private final int width;
  private final int height;
  private final int anchors;
  private final int classes;
  private final int row;
  private final List<String> labels;
  private final double scoreThreshold;
  private final double logitFloor;  // logits at or below it cannot pass the threshold: no exp needed
  private final float iouThreshold;
  private final int maxDetections;

  private final float[] centreX;
  private final float[] centreY;
  private final float[] strideOf;

  private final float[] box;        // per anchor x1, y1, x2, y2 (input pixels)
  private final double[] score;     // per (anchor, class) pair k = anchor * classes + class; valid for candidates
  private final float[] logit;      // same index
  private final long[] keys;        // candidates bucketed by class, then survivors
  private final int[] order;        // candidate pair indices in NMS order
  private final int[] classCount;
  private final int[] classStart;
  private final int[] survivors;    // pair indices, class-major
  private final int[] kept;         // pair indices kept so far within one class

  AnchorFreeDetector(int width, int height, int[] strides, List<String> labels, double scoreThreshold,
      double iouThreshold, int maxDetections) {
    this.width = width;
    this.height = height;
    this.labels = List.copyOf(labels);
    this.classes = labels.size();
    this.row = 4 + classes;
    this.scoreThreshold = scoreThreshold;
    this.logitFloor = scoreThreshold > 0 ? Math.log(scoreThreshold / (1 - scoreThreshold)) - 1e-3 : Double.NEGATIVE_INFINITY;
    this.iouThreshold = (float) iouThreshold;
    this.maxDetections = maxDetections;
    int a = 0;
    for (int s : strides) a += (width / s) * (height / s);
    this.anchors = a;
    this.centreX = new float[a];
    this.centreY = new float[a];
    this.strideOf = new float[a];
    int i = 0;
    for (int s : strides) {
      for (int y = 0; y < height / s; y++) {
        for (int x = 0; x < width / s; x++) {
          centreX[i] = (x + 0.5f) * s;
          centreY[i] = (y + 0.5f) * s;
          strideOf[i] = s;
          i++;
        }
      }
    }
    int pairs = Math.multiplyExact(anchors, classes);
    this.box = new float[4 * anchors];
    this.score = new double[pairs];
    this.logit = new float[pairs];
    this.keys = new long[pairs];
    this.order = new int[pairs];
    this.classCount = new int[classes];
    this.classStart = new int[classes + 1];
    this.survivors = new int[Math.min(pairs, Math.multiplyExact(classes, maxDetections))];
    this.kept = new int[Math.min(anchors, maxDetections)];
  }

  @Override
  public Prediction apply(FloatBuffer rawOutput, ImageTransform transform) {
    Objects.requireNonNull(transform, "transform: pass the ImageTransform the Preprocessor returned for this frame");
    int n = anchors * row;
    if (rawOutput.limit() < n) {
      throw new IllegalArgumentException("raw detector output has " + rawOutput.limit() + " values, expected " + n
          + " ([1, " + anchors + ", " + row + "])");
    }
    int candidates = decode(rawOutput);
    int survived = nmsPerClass(candidates);
    int count = rankSurvivors(survived);
    List<Detections.Box> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int k = order[i];
      int a = k / classes;
      int c = k % classes;
      out.add(new Detections.Box(
          transform.toSourceX(box[4 * a]), transform.toSourceY(box[4 * a + 1]),
          transform.toSourceX(box[4 * a + 2]), transform.toSourceY(box[4 * a + 3]),
          c, labels.get(c), score[k]));
    }
    return new Detections(out);
  }

  /** Boxes of all anchors, candidates bucketed by class into {@code keys}; returns the candidate count. */
  private int decode(FloatBuffer raw) {
    Arrays.fill(classCount, 0);
    int candidates = 0;
    for (int a = 0; a < anchors; a++) {
      int base = a * row;
      float s = strideOf[a];
      box[4 * a] = clip(centreX[a] - raw.get(base) * s, width);
      box[4 * a + 1] = clip(centreY[a] - raw.get(base + 1) * s, height);
      box[4 * a + 2] = clip(centreX[a] + raw.get(base + 2) * s, width);
      box[4 * a + 3] = clip(centreY[a] + raw.get(base + 3) * s, height);
      for (int c = 0; c < classes; c++) {
        float x = raw.get(base + 4 + c);
        if (!(x > logitFloor)) continue;
        double p = 1.0 / (1.0 + Math.exp(-(double) x));
        if (p > scoreThreshold) {
          int k = a * classes + c;
          score[k] = p;
          logit[k] = x;
          order[candidates++] = k;
          classCount[c]++;
        }
      }
    }
    classStart[0] = 0;
    for (int c = 0; c < classes; c++) classStart[c + 1] = classStart[c] + classCount[c];
    Arrays.fill(classCount, 0);
    for (int i = 0; i < candidates; i++) {          // stable bucketing: anchor order within a class
      int k = order[i];
      int c = k % classes;
      keys[classStart[c] + classCount[c]++] = key(logit[k], k);
    }
    return candidates;
  }

  /** Greedy NMS of each class; survivors (at most max_detections per class) into {@code survivors}, class-major. */
  private int nmsPerClass(int candidates) {
    int survived = 0;
    for (int c = 0; c < classes; c++) {
      int from = classStart[c];
      int to = classStart[c + 1];
      if (from == to) continue;
      sortByScore(from, to);
      int nKept = 0;
      for (int i = from; i < to && nKept < kept.length; i++) {
        int k = order[i];
        int a = k / classes;
        if (!suppressed(a, nKept)) {
          kept[nKept++] = k;
          survivors[survived++] = k;
        }
      }
    }
    return survived;
  }

  /**
   * Orders the survivors by descending score, ties by their class-major position, into
   * {@code order[0, count)}; returns count = min(survivors, max_detections).
   */
  private int rankSurvivors(int survived) {
    for (int i = 0; i < survived; i++) keys[i] = key(logit[survivors[i]], i);
    Arrays.sort(keys, 0, survived);
    for (int i = 0; i < survived; i++) order[i] = (int) keys[i];          // positions for now
    fixTies(0, survived, true);
    int count = Math.min(survived, maxDetections);
    for (int i = 0; i < count; i++) order[i] = survivors[order[i]];
    return count;
  }

  /** Sorts keys[from, to) and writes the pair indices into order[from, to), ties by pair index. */
  private void sortByScore(int from, int to) {
    Arrays.sort(keys, from, to);
    for (int i = from; i < to; i++) order[i] = (int) keys[i];
    fixTies(from, to, false);
  }

  /**
   * Keys order by logit, which is the score's order except where distinct logits round to the same
   * double score: those runs are contiguous and re-sorted by index, as the reference's stable sort
   * by score would order them.
   */
  private void fixTies(int from, int to, boolean positions) {
    int i = from;
    while (i < to) {
      double s = scoreAt(order[i], positions);
      int j = i + 1;
      while (j < to && scoreAt(order[j], positions) == s) j++;
      if (j - i > 1) Arrays.sort(order, i, j);
      i = j;
    }
  }

  private double scoreAt(int index, boolean position) {
    return score[position ? survivors[index] : index];
  }

  /** Float32 IoU of anchor a's box against each kept box, as the reference computes it. */
  private boolean suppressed(int a, int nKept) {
    float x1 = box[4 * a];
    float y1 = box[4 * a + 1];
    float x2 = box[4 * a + 2];
    float y2 = box[4 * a + 3];
    float area = (x2 - x1) * (y2 - y1);
    for (int j = 0; j < nKept; j++) {
      int b = 4 * (kept[j] / classes);
      float kx1 = box[b];
      float ky1 = box[b + 1];
      float kx2 = box[b + 2];
      float ky2 = box[b + 3];
      float w = Math.max(Math.min(kx2, x2) - Math.max(kx1, x1), 0f);
      float h = Math.max(Math.min(ky2, y2) - Math.max(ky1, y1), 0f);
      float inter = w * h;
      float keptArea = (kx2 - kx1) * (ky2 - ky1);
      float iou = inter / (keptArea + area - inter + 1e-12f);
      if (iou > iouThreshold) return true;
    }
    return false;
  }

  private static float clip(float v, int max) {
    return Math.min(Math.max(v, 0f), (float) max);
  }

  /** Ascending order of the key = descending logit, then ascending index. */
  private static long key(float logit, int index) {
    int bits = Float.floatToIntBits(logit);
    int ascending = bits ^ ((bits >> 31) & 0x7FFFFFFF);
    return ((long) ~ascending << 32) | (index & 0xFFFFFFFFL);
  }
}

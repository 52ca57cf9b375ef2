package dev.splitrt.eval;

import dev.splitrt.transport.Topics;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Prediction;
import dev.splitrt.transport.MqttLink;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Listens to the results of a fleet ({@code splitrt/v1/<fleet>/+/results/+}) and keeps one result
 * per (device, sequence): QoS 1 is at-least-once, so a feature resent after a reconnect can yield
 * a second, identical result, counted here as a duplicate. Used by the demo and the end-to-end tests
 * to measure delivery, latency and accuracy.
 */
public final class ResultCollector {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One tail result as published; {@code arrivedMicros} is this collector's clock. */
  public record Result(String device, String model, long sequence, long captureMicros, long arrivedMicros,
                       double tailMs, int featureBytes, Prediction prediction) {}

  private final Map<String, Result> results = new ConcurrentSkipListMap<>();
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder malformed = new LongAdder();
  private final LatencyHistogram latency = new LatencyHistogram();

  /** Subscribes on {@code link} to every result of {@code fleet}. */
  public static ResultCollector attach(MqttLink link, String fleet) {
    ResultCollector c = new ResultCollector();
    link.subscribe(Topics.fleetResults(fleet), 1, (topic, payload) -> c.accept(payload));
    return c;
  }

  void accept(byte[] payload) {
    long now = System.currentTimeMillis() * 1000;
    Result r;
    try {
      r = parse(JSON.readTree(payload), now);
    } catch (IOException | RuntimeException e) {
      malformed.increment();
      return;
    }
    if (results.putIfAbsent(r.device() + "#" + String.format("%019d", r.sequence()), r) != null) {
      duplicates.increment();
    } else {
      latency.recordNanos((now - r.captureMicros()) * 1000);
    }
  }

  static Result parse(JsonNode n, long arrivedMicros) {
    JsonNode p = n.get("prediction");
    Prediction prediction;
    if ("classification".equals(p.get("kind").asText())) {
      List<Classification.Scored> top = new ArrayList<>();
      for (JsonNode s : p.get("top_k")) top.add(new Classification.Scored(s.get("label").asInt(), s.get("name").asText(), s.get("score").asDouble()));
      prediction = new Classification(top);
    } else {
      List<Detections.Box> boxes = new ArrayList<>();
      for (JsonNode b : p.get("boxes")) {
        boxes.add(new Detections.Box(b.get("x1").asDouble(), b.get("y1").asDouble(), b.get("x2").asDouble(), b.get("y2").asDouble(),
            b.get("label").asInt(), b.get("name").asText(), b.get("score").asDouble()));
      }
      prediction = new Detections(boxes);
    }
    return new Result(n.get("device").asText(), n.get("model").asText(), n.get("sequence").asLong(), n.get("capture_us").asLong(),
        arrivedMicros, n.get("tail_ms").asDouble(), n.get("feature_bytes").asInt(), prediction);
  }

  /** Distinct results so far, ordered by device then sequence. */
  public List<Result> results() {
    return List.copyOf(results.values());
  }

  public int count() {
    return results.size();
  }

  public long duplicates() {
    return duplicates.sum();
  }

  public long malformed() {
    return malformed.sum();
  }

  /** Capture (device clock) to arrival here (this clock): end-to-end latency when both run on one host. */
  public LatencyHistogram.Snapshot latency() {
    return latency.snapshot();
  }

  /** Top-1 (classification) or mAP (detection) of the results collected so far; NaN for what the task does not have. */
  public record Score(double top1, double map50, double map50to95) {}

  /**
   * Scores the distinct results against {@code labels}, taking frame {@code sequence % labels} as the
   * truth of each result (a looped source repeats the evaluation set in order).
   */
  public Score score(EvalLabels labels) {
    List<EvalLabels.Item> items = labels.items();
    TopOneAccuracy top1 = new TopOneAccuracy();
    MeanAveragePrecision map = new MeanAveragePrecision();
    boolean detection = false;
    for (Result r : results.values()) {
      EvalLabels.Item truth = items.get((int) Long.remainderUnsigned(r.sequence(), items.size()));
      if (r.prediction() instanceof Classification c) {
        top1.add(c.topK().get(0).label(), truth.label());
      } else {
        detection = true;
        map.add((Detections) r.prediction(), truth.boxes());
      }
    }
    return detection ? new Score(Double.NaN, map.map50(), map.map50to95()) : new Score(top1.value(), Double.NaN, Double.NaN);
  }

  /** Waits until at least {@code n} distinct results arrived. */
  public boolean awaitCount(int n, long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while (results.size() < n) {
      if (System.currentTimeMillis() > end) return false;
      Thread.sleep(10);
    }
    return true;
  }
}

package dev.splitrt.tail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.splitrt.codec.FeatureDecoder;
import dev.splitrt.codec.FeatureFrame;
import dev.splitrt.codec.FeatureFrameException;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.TopicParts;
import dev.splitrt.transport.Topics;
import dev.splitrt.vision.ImageTransform;
import dev.splitrt.vision.Preprocessor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the split: takes FeatureFrames from the fleet's shared subscription, checks
 * them (strict decode, known model, same head, shape), runs the tail and publishes a result JSON on
 * {@code splitrt/v1/<fleet>/<device>/results/<model>}.
 *
 * <p>A message that fails any check goes to {@code splitrt/v1/<fleet>/deadletter} with its reason
 * and is counted; the runner goes on. Messages are handed from the MQTT callback thread to a bounded
 * queue: when the workers fall behind, the callback waits, which (QoS 1) holds back the broker
 * instead of losing features. Several runners in one {@code group} share the load (MQTT 5 shared
 * subscription). Each worker owns one tail session per model.
 */
public final class TailRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TailRunner.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Message POISON = new Message("", new byte[0], 0);

  /** Resolved settings; {@code evaluation} publishes detections down to the manifest's eval threshold. */
  public record Settings(String fleet, String group, String runnerId, int workers, int threads, boolean evaluation, int queueDepth) {}

  private record Message(String topic, byte[] payload, long receivedMicros) {}

  private final Settings settings;
  private final MqttLink link;
  private final Map<String, LoadedModel> models;
  private final BlockingQueue<Message> inbox;
  private final List<Worker> workers = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final String deadLetterTopic;
  private final MetricsRegistry metrics;
  private final LongAdder received;
  private final LongAdder processed;
  private final LongAdder deadLettered;
  private final LatencyHistogram decodeTime;
  private final LatencyHistogram tailTime;
  private final LatencyHistogram postTime;
  private final LatencyHistogram captureToResult;
  private volatile boolean closed;

  private TailRunner(Settings settings, MqttLink link, Map<String, LoadedModel> models, MetricsRegistry metrics) {
    this.settings = settings;
    this.link = link;
    this.models = models;
    this.metrics = metrics;
    this.inbox = new ArrayBlockingQueue<>(settings.queueDepth());
    this.deadLetterTopic = Topics.deadLetter(settings.fleet());
    received = metrics.counter("splitrt_tail_features_received_total", "FeatureFrames received");
    processed = metrics.counter("splitrt_tail_results_published_total", "Results published");
    deadLettered = metrics.counter("splitrt_tail_deadletter_total", "Messages rejected to the dead-letter topic");
    decodeTime = metrics.histogram("splitrt_tail_decode_seconds", "Strict decode and dequantize");
    tailTime = metrics.histogram("splitrt_tail_inference_seconds", "Tail inference");
    postTime = metrics.histogram("splitrt_tail_postprocess_seconds", "Top-k or box decoding and NMS");
    captureToResult = metrics.histogram("splitrt_tail_capture_to_result_seconds", "Device capture to result (needs synchronised clocks)");
    metrics.gauge("splitrt_tail_queue_messages", "Features waiting for a worker", inbox::size);
  }

  /**
   * Opens the tail of every model for each worker, subscribes, and starts the workers. On failure
   * everything opened so far is closed again.
   */
  public static TailRunner start(Settings settings, List<LoadedModel> models, InferenceBackend backend, MqttLink link,
      MetricsRegistry metrics) throws InferenceException {
    Map<String, LoadedModel> byId = new LinkedHashMap<>();
    for (LoadedModel m : models) byId.put(m.manifest().id(), m);
    TailRunner runner = new TailRunner(settings, link, byId, metrics);
    try {
      for (int i = 0; i < settings.workers(); i++) runner.workers.add(runner.new Worker(backend));
    } catch (InferenceException | RuntimeException e) {
      runner.close();
      throw e;
    }
    for (int i = 0; i < runner.workers.size(); i++) {
      Thread t = new Thread(runner.workers.get(i), "splitrt-tail-" + i);
      t.setDaemon(true);
      runner.threads.add(t);
      t.start();
    }
    link.subscribe(Topics.sharedFeatures(settings.group(), settings.fleet()), 1, runner::onMessage);
    log.info("tail {}: group {} of fleet {}, models {}, {} worker(s) on {}", settings.runnerId(), settings.group(), settings.fleet(),
        byId.keySet(), settings.workers(), runner.workers.get(0).backendName());
    return runner;
  }

  /**
   * Runs on the MQTT client's callback thread. Waiting here while the workers are behind holds back
   * this client's acknowledgements, so (QoS 1, bounded receive maximum) the broker holds back too.
   */
  private void onMessage(String topic, byte[] payload) throws InterruptedException {
    received.increment();
    Message m = new Message(topic, payload, System.currentTimeMillis() * 1000);
    while (!inbox.offer(m, 100, TimeUnit.MILLISECONDS)) {
      if (closed) {
        log.warn("tail {}: shutting down; dropped a feature that arrived on {} after the workers stopped", settings.runnerId(), topic);
        return;
      }
    }
  }

  public record Stats(long received, long published, long deadLettered, int queued) {}

  public Stats stats() {
    return new Stats(received.sum(), processed.sum(), deadLettered.sum(), inbox.size());
  }

  /** Waits until every received message was handled (result or dead letter). */
  public boolean awaitIdle(long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < end) {
      Stats s = stats();
      if (s.queued() == 0 && s.received() == s.published() + s.deadLettered()) return true;
      Thread.sleep(10);
    }
    return false;
  }

  /** A check a feature failed; {@code reason} is a stable snake_case word for counting and alerting. */
  static final class Rejected extends Exception {
    final String reason;

    Rejected(String reason, String detail) {
      super(detail);
      this.reason = reason;
    }
  }

  private final class Worker implements Runnable {
    private final Map<String, InferenceSession> sessions = new HashMap<>();
    private final Map<String, Postprocessor> postprocessors = new HashMap<>();
    private final FeatureDecoder decoder;

    Worker(InferenceBackend backend) throws InferenceException {
      int maxElements = 1;
      try {
        for (LoadedModel m : models.values()) {
          ModelManifest mf = m.manifest();
          sessions.put(mf.id(), backend.open(m.tail(), new SessionOptions(settings.threads(), "fp32")));
          postprocessors.put(mf.id(), Postprocessor.forModel(mf, settings.evaluation()));
          maxElements = Math.max(maxElements, mf.tail().input().elementCount());
        }
      } catch (InferenceException | RuntimeException e) {
        close();
        throw e;
      }
      decoder = new FeatureDecoder(maxElements);
    }

    String backendName() {
      return sessions.values().iterator().next().backendName();
    }

    @Override
    public void run() {
      try {
        while (true) {
          Message m = inbox.poll(100, TimeUnit.MILLISECONDS);
          if (m == POISON || (m == null && closed)) return;
          if (m == null) continue;
          try {
            handle(m);
          } catch (Rejected r) {
            deadLetter(m, r.reason, r.getMessage());
          } catch (InferenceException | RuntimeException e) {
            log.error("tail {}: failed on {}: {}", settings.runnerId(), m.topic(), e.toString());
            deadLetter(m, "tail_failed", e.toString());
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        close();
      }
    }

    private void handle(Message m) throws Rejected, InferenceException, InterruptedException {
      long t0 = System.nanoTime();
      TopicParts topic;
      try {
        topic = Topics.parse(m.topic());
      } catch (IllegalArgumentException e) {
        throw new Rejected("bad_topic", e.getMessage());
      }
      FeatureFrame frame;
      try {
        frame = decoder.decode(m.payload());
      } catch (FeatureFrameException e) {
        throw new Rejected(e.reason().name().toLowerCase(Locale.ROOT), e.getMessage());
      }
      String modelId = frame.header().modelId();
      LoadedModel model = models.get(modelId);
      if (model == null) {
        throw new Rejected("unknown_model", "model '" + modelId + "' is not served by this tail group (serves " + models.keySet()
            + "); add it to the tail config's 'models' or fix the device's model");
      }
      if (!modelId.equals(topic.model()) || !frame.header().deviceId().equals(topic.device())) {
        throw new Rejected("topic_mismatch", "frame says device '" + frame.header().deviceId() + "' model '" + modelId
            + "' but came on " + m.topic());
      }
      if (!Arrays.equals(frame.header().headSha256(), model.headSha256())) {
        throw new Rejected("head_mismatch", "frame made by head " + hex(frame.header().headSha256()) + " but " + modelId
            + " has head " + model.manifest().head().sha256() + "; deploy the same model version on device and tail");
      }
      int[] expected = model.manifest().tail().input().dims();
      if (!Arrays.equals(frame.shape(), expected)) {
        throw new Rejected("shape_mismatch", "frame shape " + Arrays.toString(frame.shape()) + " but " + modelId + " tail takes "
            + Arrays.toString(expected));
      }
      InferenceSession session = sessions.get(modelId);
      frame.dequantizeInto(session.input());
      long t1 = System.nanoTime();
      java.nio.FloatBuffer raw = session.run();
      long t2 = System.nanoTime();
      ImageTransform transform = Preprocessor.transformFor(model.manifest().input(), frame.header().sourceWidth(),
          frame.header().sourceHeight());
      Prediction prediction = postprocessors.get(modelId).apply(raw, transform);
      long t3 = System.nanoTime();
      decodeTime.recordNanos(t1 - t0);
      tailTime.recordNanos(t2 - t1);
      postTime.recordNanos(t3 - t2);
      long doneMicros = System.currentTimeMillis() * 1000;
      captureToResult.recordNanos((doneMicros - frame.header().captureEpochMicros()) * 1000);
      ObjectNode result = JSON.createObjectNode()
          .put("device", frame.header().deviceId())
          .put("model", modelId)
          .put("sequence", frame.header().sequence())
          .put("epoch", frame.header().epoch())
          .put("capture_us", frame.header().captureEpochMicros())
          .put("received_us", m.receivedMicros())
          .put("done_us", doneMicros)
          .put("decode_ms", (t1 - t0) / 1e6)
          .put("tail_ms", (t2 - t1) / 1e6)
          .put("post_ms", (t3 - t2) / 1e6)
          .put("feature_bytes", m.payload().length)
          .put("runner", settings.runnerId())
          .put("backend", session.backendName());
      result.set("prediction", toJson(prediction));
      link.publish(Topics.results(settings.fleet(), topic.device(), modelId), result.toString().getBytes(StandardCharsets.UTF_8), 1, false);
      processed.increment();
    }

    synchronized void close() {
      sessions.values().forEach(InferenceSession::close);
      sessions.clear();
    }
  }

  static ObjectNode toJson(Prediction p) {
    ObjectNode o = JSON.createObjectNode();
    if (p instanceof Classification c) {
      o.put("kind", "classification");
      ArrayNode top = o.putArray("top_k");
      for (Classification.Scored s : c.topK()) top.addObject().put("label", s.label()).put("name", s.name()).put("score", s.score());
    } else if (p instanceof Detections d) {
      o.put("kind", "detection");
      ArrayNode boxes = o.putArray("boxes");
      for (Detections.Box b : d.boxes()) {
        boxes.addObject().put("x1", b.x1()).put("y1", b.y1()).put("x2", b.x2()).put("y2", b.y2())
            .put("label", b.label()).put("name", b.name()).put("score", b.score());
      }
    }
    return o;
  }

  private void deadLetter(Message m, String reason, String detail) throws InterruptedException {
    deadLettered.increment();
    metrics.counter("splitrt_tail_deadletter_" + reason + "_total", "Messages rejected as " + reason).increment();
    log.warn("tail {}: dead-lettered message on {} ({} bytes): {}: {}", settings.runnerId(), m.topic(), m.payload().length, reason, detail);
    ObjectNode o = JSON.createObjectNode()
        .put("reason", reason)
        .put("detail", detail)
        .put("topic", m.topic())
        .put("bytes", m.payload().length)
        .put("received_us", m.receivedMicros())
        .put("runner", settings.runnerId());
    link.publish(deadLetterTopic, o.toString().getBytes(StandardCharsets.UTF_8), 1, false);
  }

  private static String hex(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) sb.append(String.format("%02x", x));
    return sb.toString();
  }

  /**
   * Lets the workers finish what is queued (up to 5 s), then stops them and closes the tail
   * sessions. Close the MQTT link afterwards.
   */
  @Override
  public void close() {
    if (closed) return;
    try {
      if (!threads.isEmpty() && !awaitIdle(5_000)) log.warn("tail {}: {} queued features not processed at shutdown", settings.runnerId(), inbox.size());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closed = true;
    for (int i = 0; i < threads.size(); i++) inbox.offer(POISON);
    for (Thread t : threads) {
      try {
        t.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (Worker w : workers) w.close();
  }
}

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
import java.util.Optional;
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
 *
 * <p><b>Idempotent.</b> A repeated feature (same device, boot epoch, model and sequence: the edge
 * resends what it got no result for, and QoS 1 may deliver twice) gets the result computed the first
 * time, published again, from a bounded LRU cache ({@code resultCache} entries, {@link ResultCache});
 * it is counted in {@code splitrt_tail_duplicates_total}, not as a second result. A duplicate that
 * arrives while the first copy is still being computed waits for that computation.
 *
 * <p><b>Bounded memory.</b> The hand-off queue is bounded by messages ({@code queueDepth}) and by
 * payload bytes ({@code queueBytes}); the MQTT client announces a Maximum Packet Size so the broker
 * never sends it a message larger than the largest legal feature (see {@link #maxFeaturePacketBytes}).
 * Dead letters are counted per reason; their WARN lines are rate-limited to one per reason per
 * {@value #DEAD_LETTER_LOG_INTERVAL_S} s with the number suppressed.
 */
public final class TailRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TailRunner.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Message POISON = new Message("", new byte[0], 0);
  /** Seconds between two dead-letter WARN lines of one reason (a flood of junk must not flood the log). */
  public static final int DEAD_LETTER_LOG_INTERVAL_S = 10;
  /** Default bytes of features waiting for a worker. */
  public static final long DEFAULT_QUEUE_BYTES = 64L << 20;
  /** Default results kept to answer repeated features. */
  public static final int DEFAULT_RESULT_CACHE = 4096;

  /**
   * Resolved settings; {@code evaluation} publishes detections down to the manifest's eval threshold;
   * {@code queueBytes} bounds the payload bytes waiting for a worker; {@code resultCache} the results
   * kept to answer repeated features.
   */
  public record Settings(String fleet, String group, String runnerId, int workers, int threads, boolean evaluation, int queueDepth,
                         long queueBytes, int resultCache, long reassemblyBytes, int reassemblySets, java.time.Duration chunkTimeout) {
    public Settings(String fleet, String group, String runnerId, int workers, int threads, boolean evaluation, int queueDepth) {
      this(fleet, group, runnerId, workers, threads, evaluation, queueDepth, DEFAULT_QUEUE_BYTES, DEFAULT_RESULT_CACHE);
    }

    public Settings(String fleet, String group, String runnerId, int workers, int threads, boolean evaluation, int queueDepth,
                    long queueBytes, int resultCache) {
      this(fleet, group, runnerId, workers, threads, evaluation, queueDepth, queueBytes, resultCache,
          dev.splitrt.config.TailConfig.DEFAULT_REASSEMBLY_BYTES, dev.splitrt.config.TailConfig.DEFAULT_REASSEMBLY_SETS,
          java.time.Duration.ofSeconds(dev.splitrt.config.TailConfig.DEFAULT_CHUNK_TIMEOUT_SECONDS));
    }

    public Settings {
      if (reassemblyBytes < 1) throw new IllegalArgumentException("tail reassemblyBytes must be >= 1, was " + reassemblyBytes);
      if (reassemblySets < 1) throw new IllegalArgumentException("tail reassemblySets must be >= 1, was " + reassemblySets);
      if (chunkTimeout.isNegative() || chunkTimeout.isZero()) {
        throw new IllegalArgumentException("tail chunkTimeout must be > 0, was " + chunkTimeout);
      }
    }
  }

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
  private final LongAdder duplicates;
  private final LongAdder handled;
  private final LongAdder chunks;
  private final dev.splitrt.codec.FeatureChunks.Assembler assembler;
  private long lastExpiry = System.nanoTime();
  private final java.util.concurrent.atomic.AtomicLong queuedBytes = new java.util.concurrent.atomic.AtomicLong();
  private final Object queueSpace = new Object();
  private final ResultCache results;
  private final Map<String, long[]> deadLetterLog = new HashMap<>();
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
    metrics.gauge("splitrt_tail_queue_bytes", "Feature bytes waiting for a worker", queuedBytes::get);
    duplicates = metrics.counter("splitrt_tail_duplicates_total",
        "Repeated features answered with the result computed the first time (not computed again)");
    handled = new LongAdder();
    chunks = metrics.counter("splitrt_tail_chunks_received_total", "Chunk messages received (parts of FeatureFrames too large for one packet)");
    assembler = new dev.splitrt.codec.FeatureChunks.Assembler(settings.reassemblyBytes(), settings.reassemblySets(),
        maxFeaturePacketBytes(List.copyOf(models.values())), settings.chunkTimeout().toNanos());
    metrics.gauge("splitrt_tail_reassembly_bytes", "Bytes held by incomplete chunk sets", () -> {
      synchronized (assembler) {
        return assembler.bytesOpen();
      }
    });
    results = new ResultCache(settings.resultCache());
  }

  /**
   * The largest MQTT packet a feature of these models can legally take: the largest FeatureFrame (8
   * bits per element, per-channel three-range parameters, the longest ids, entropy coding's worst-case
   * expansion) on the longest features topic, plus headroom. Tails announce it as their Maximum Packet
   * Size, so the broker drops junk larger than that instead of making the tail allocate it.
   */
  public static long maxFeaturePacketBytes(List<LoadedModel> models) {
    long max = 0;
    for (LoadedModel m : models) {
      int[] dims = m.manifest().tail().input().dims();
      long n = 1;
      for (int d : dims) n *= d;
      long channels = dims.length >= 2 ? dims[1] : 1;
      long header = 74 + 2 * 128 + 4L * dims.length + 4 + channels * 3 * 8 + channels * 3 * 2;
      long payload = n + n / 64 + 1024; // 8 bits per element; zstd/DEFLATE's worst-case growth is far below 1/64
      long frame = header + payload + 4;
      long topic = 64 + 3 * 64 + 128; // splitrt/v1/<fleet>/<device>/features/<model>, ids at their longest
      max = Math.max(max, frame + topic + 16);
    }
    return max;
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
  void onMessage(String topic, byte[] payload) throws InterruptedException {
    received.increment();
    Message m = new Message(topic, payload, System.currentTimeMillis() * 1000);
    synchronized (queueSpace) {
      // Bounded by bytes too; one message larger than the bound still goes when the queue is empty.
      while (queuedBytes.get() > 0 && queuedBytes.get() + payload.length > settings.queueBytes()) {
        if (closed) {
          log.warn("tail {}: shutting down; dropped a feature that arrived on {} after the workers stopped", settings.runnerId(), topic);
          return;
        }
        queueSpace.wait(100);
      }
      queuedBytes.addAndGet(payload.length);
    }
    while (!inbox.offer(m, 100, TimeUnit.MILLISECONDS)) {
      if (closed) {
        log.warn("tail {}: shutting down; dropped a feature that arrived on {} after the workers stopped", settings.runnerId(), topic);
        return;
      }
    }
  }

  /** {@code duplicates}: repeated features answered from the result cache (published again, not computed). */
  public record Stats(long received, long published, long deadLettered, int queued, long duplicates) {
    public Stats(long received, long published, long deadLettered, int queued) {
      this(received, published, deadLettered, queued, 0);
    }
  }

  public Stats stats() {
    return new Stats(received.sum(), processed.sum(), deadLettered.sum(), inbox.size(), duplicates.sum());
  }

  /** Waits until every received message was handled (result or dead letter). */
  public boolean awaitIdle(long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < end) {
      Stats s = stats();
      if (s.queued() == 0 && s.received() == handled.sum()) return true;
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
          expireChunkSets();
          if (m == null) continue;
          long size = m.payload().length;
          synchronized (queueSpace) {
            queuedBytes.addAndGet(-size);
            queueSpace.notifyAll();
          }
          try {
            Message whole = m;
            if (dev.splitrt.codec.FeatureChunks.isChunk(m.payload())) {
              chunks.increment();
              Optional<byte[]> frame;
              synchronized (assembler) {
                frame = assembler.accept(m.topic(), m.payload(), System.nanoTime());
              }
              whole = frame.isPresent() ? new Message(m.topic(), frame.get(), m.receivedMicros()) : null;
            }
            if (whole != null) handle(whole);
          } catch (dev.splitrt.codec.FeatureChunks.ChunkException c) {
            deadLetter(m, c.reason(), c.getMessage());
          } catch (Rejected r) {
            deadLetter(m, r.reason, r.getMessage());
          } catch (InferenceException | RuntimeException e) {
            log.error("tail {}: failed on {}: {}", settings.runnerId(), m.topic(), e.toString());
            deadLetter(m, "tail_failed", e.toString());
          } finally {
            handled.increment();
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
      String resultTopic = Topics.results(settings.fleet(), topic.device(), modelId);
      ResultCache.Answer answer = results.answer(ResultCache.Key.of(frame.header()), () -> compute(m, frame, model, modelId, t0));
      link.publish(resultTopic, answer.json(), 1, false);
      if (answer.repeated()) {
        duplicates.increment();
      } else {
        processed.increment();
      }
    }

    private byte[] compute(Message m, FeatureFrame frame, LoadedModel model, String modelId, long t0) throws InferenceException {
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
      return result.toString().getBytes(StandardCharsets.UTF_8);
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

  /** Dead-letters chunk sets that did not complete within the chunk timeout (checked about once a second). */
  private void expireChunkSets() throws InterruptedException {
    List<dev.splitrt.codec.FeatureChunks.Expired> gone;
    synchronized (assembler) {
      long now = System.nanoTime();
      if (now - lastExpiry < 1_000_000_000L) return;
      lastExpiry = now;
      gone = assembler.expire(now);
    }
    for (dev.splitrt.codec.FeatureChunks.Expired e : gone) {
      deadLetter(new Message(e.topic(), new byte[0], System.currentTimeMillis() * 1000), "chunk_timeout",
          "chunk set " + Long.toHexString(e.setId()) + " of a " + e.totalBytes() + "-byte frame: " + e.received() + " of "
              + e.count() + " chunks within " + settings.chunkTimeout().toSeconds() + " s; the rest never came");
    }
  }

  private void deadLetter(Message m, String reason, String detail) throws InterruptedException {
    deadLettered.increment();
    metrics.counter("splitrt_tail_deadletter_" + reason + "_total", "Messages rejected as " + reason).increment();
    long suppressed = -1;
    synchronized (deadLetterLog) {
      long now = System.nanoTime();
      long[] st = deadLetterLog.computeIfAbsent(reason, r -> new long[] {now - TimeUnit.SECONDS.toNanos(DEAD_LETTER_LOG_INTERVAL_S + 1), 0});
      if (now - st[0] > TimeUnit.SECONDS.toNanos(DEAD_LETTER_LOG_INTERVAL_S)) {
        suppressed = st[1];
        st[0] = now;
        st[1] = 0;
      } else {
        st[1]++;
      }
    }
    if (suppressed >= 0) {
      String d = detail.length() > 300 ? detail.substring(0, 300) + "..." : detail;
      log.warn("tail {}: dead-lettered message on {} ({} bytes): {}: {}{}", settings.runnerId(), m.topic(), m.payload().length, reason, d,
          suppressed == 0 ? "" : " (" + suppressed + " more '" + reason + "' in the last " + DEAD_LETTER_LOG_INTERVAL_S
              + " s not logged; see splitrt_tail_deadletter_" + reason + "_total)");
    }
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

package dev.splitrt.edge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.Topics;
import dev.splitrt.vision.Frame;
import dev.splitrt.vision.FrameSource;
import dev.splitrt.vision.Preprocessor;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The on-device pipeline: a capture thread reads the source into a bounded queue, a worker thread
 * preprocesses, runs the head, encodes a FeatureFrame and hands it to the MQTT outbox.
 *
 * <p>Back-pressure rules: a live source (camera, pipe, paced file) never waits: when the queue is
 * full the oldest waiting frame is dropped and counted. A finite file source waits instead, so
 * a recorded clip is processed whole. With a {@link Delivery} (a spool configured), a feature is
 * accepted once it is in the spool and leaves it with its result or a counted expiry
 * ({@code runtime/docs/delivery.md}). Without one, the worker hands it to {@link MqttLink#publish}
 * and the in-memory outbox keeps it until the broker acknowledged it (lost on a power cut, and
 * whatever the broker drops after its PUBACK is lost too).
 *
 * <p>Ownership: the daemon owns the head session and the source and closes both; the MQTT link
 * belongs to the caller (it may be shared, e.g. with a status publisher), and so do the delivery
 * window and its spool.
 */
public final class EdgeDaemon implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EdgeDaemon.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final EdgeSettings settings;
  private final LoadedModel model;
  private final FrameSource source;
  private final MqttLink link;
  private final Delivery delivery;
  private final InferenceSession head;
  private final Preprocessor preprocessor;
  private final FeatureEncoder encoder;
  private final String featureTopic;
  private final String statusTopic;
  private final BlockingQueue<Frame> queue;
  private final Thread captureThread;
  private final Thread workerThread;
  private final CountDownLatch finished = new CountDownLatch(1);
  private volatile boolean stopping;
  private volatile boolean sourceEnded;
  private volatile Throwable sourceError;
  // Progress clocks for health(): the last frame captured, the last frame the head worker finished.
  private volatile long lastCaptureNanos = System.nanoTime();
  private volatile long lastHeadNanos = System.nanoTime();

  private final LongAdder captured;
  private final LongAdder accepted;
  private final LongAdder dropped;
  private final LongAdder failed;
  private final LongAdder acked;
  /** Publishes whose future failed (refused for good, or the link closed): with {@link #acked}, the settled ones. */
  private final LongAdder notAcked = new LongAdder();
  private final LongAdder featureBytes;
  private final LongAdder chunked;
  private final AtomicLong lastFailureLog = new AtomicLong();
  private final LatencyHistogram preprocessTime;
  private final LatencyHistogram headTime;
  private final LatencyHistogram encodeTime;
  private final LatencyHistogram publishTime;
  private final LatencyHistogram ackLatency;
  private final LatencyHistogram captureToSend;

  private EdgeDaemon(EdgeSettings settings, LoadedModel model, InferenceSession head, FrameSource source, MqttLink link,
      Delivery delivery, MetricsRegistry metrics) {
    this.settings = settings;
    this.delivery = delivery;
    this.model = model;
    this.head = head;
    this.source = source;
    this.link = link;
    this.preprocessor = new Preprocessor(model.manifest().input());
    this.encoder = new FeatureEncoder(settings.codec(), model.manifest().head().output().dims());
    String modelId = model.manifest().id();
    this.featureTopic = Topics.features(settings.fleet(), settings.deviceId(), modelId);
    this.statusTopic = Topics.status(settings.fleet(), settings.deviceId());
    this.queue = new ArrayBlockingQueue<>(settings.queueDepth());
    captured = metrics.counter("splitrt_edge_frames_captured_total", "Frames read from the source");
    accepted = metrics.counter("splitrt_edge_features_accepted_total", "Features handed to the MQTT outbox (never dropped after this)");
    dropped = metrics.counter("splitrt_edge_frames_dropped_total", "Frames dropped before the head because the device fell behind a live source");
    failed = metrics.counter("splitrt_edge_frames_failed_total", "Frames that failed in preprocessing, the head or the encoder");
    acked = metrics.counter("splitrt_edge_features_acked_total", "Features acknowledged by the broker (QoS 1 PUBACK)");
    chunked = metrics.counter("splitrt_edge_features_chunked_total", "Features sent as chunk sets (larger than the broker's maximum packet)");
    featureBytes = metrics.counter("splitrt_edge_feature_bytes_total", "FeatureFrame bytes accepted for sending");
    preprocessTime = metrics.histogram("splitrt_edge_preprocess_seconds", "Resize, colour, normalise, CHW");
    headTime = metrics.histogram("splitrt_edge_head_seconds", "Head inference");
    encodeTime = metrics.histogram("splitrt_edge_encode_seconds", "Quantize, pack and frame the bottleneck");
    publishTime = metrics.histogram("splitrt_edge_publish_seconds", "Handing the feature to the outbox (waits while the outbox is full)");
    ackLatency = metrics.histogram("splitrt_edge_capture_to_ack_seconds", "Capture to broker acknowledgement");
    captureToSend = metrics.histogram("splitrt_edge_capture_to_send_seconds", "Capture to the first hand-off to the MQTT link");
    metrics.gauge("splitrt_edge_queue_frames", "Frames waiting for the head", queue::size);
    captureThread = new Thread(this::captureLoop, "splitrt-edge-capture");
    workerThread = new Thread(this::workLoop, "splitrt-edge-head");
  }

  /**
   * Opens the head on {@code backend} and builds a daemon; call {@link #start()} to run it. Takes
   * ownership of {@code source} (closed by {@link #close()}, also when this method fails).
   */
  public static EdgeDaemon create(EdgeSettings settings, LoadedModel model, InferenceBackend backend, FrameSource source,
      MqttLink link, MetricsRegistry metrics) throws InferenceException {
    return create(settings, model, backend, source, link, null, metrics);
  }

  /**
   * As above, with features accepted into {@code delivery}'s spool and answered end to end (null:
   * the in-memory outbox only). The caller starts and closes {@code delivery}.
   */
  public static EdgeDaemon create(EdgeSettings settings, LoadedModel model, InferenceBackend backend, FrameSource source,
      MqttLink link, Delivery delivery, MetricsRegistry metrics) throws InferenceException {
    InferenceSession head;
    try {
      head = backend.open(model.head(), new SessionOptions(settings.threads(), "fp32"));
    } catch (InferenceException | RuntimeException e) {
      source.close();
      throw e;
    }
    return new EdgeDaemon(settings, model, head, source, link, delivery, metrics);
  }

  /** The device profile's pipeline defaults, with the config's overrides and the model's default codec. */
  public static EdgeSettings settings(EdgeConfig config, DeviceProfile profile, LoadedModel model) {
    DeviceProfile.Pipeline p = profile.pipeline();
    EdgeConfig.PipelineOverrides o = config.pipeline();
    double fps = o != null && o.fpsCap() != null ? o.fpsCap() : p.fpsCap();
    int depth = o != null && o.queueDepth() != null ? o.queueDepth() : p.queueDepth();
    int threads = o != null && o.threads() != null ? o.threads() : p.threads();
    CodecSpec codec = CodecSpec.of(o != null && o.codec() != null ? o.codec()
        : p.codec() != null ? p.codec() : model.manifest().bottleneck().codec());
    return new EdgeSettings(config.deviceId(), config.fleet(), fps, depth, threads, codec, config.chunkingEnabled());
  }

  /** The retained-status message the link should register as its last will. */
  public static MqttLink.Will will(String fleet, String deviceId) {
    return new MqttLink.Will(Topics.status(fleet, deviceId), status(deviceId, "offline", null, null), true);
  }

  /**
   * Health that means healthy: capture progresses (a frame within {@code stall}, unless the source
   * ended or waits for a full queue), the head worker progresses (alive; finished a frame within
   * {@code stall} whenever frames wait), and the MQTT link is connected, its threads alive, not stalled
   * and no broker refusal within the last {@code stall}. The JSON names the part that is not.
   */
  public dev.splitrt.metrics.MetricsServer.Health health(Duration stall) {
    long now = System.nanoTime();
    long stallMs = stall.toMillis();
    long sinceFrame = TimeUnit.NANOSECONDS.toMillis(now - lastCaptureNanos);
    boolean captureBlockedByQueue = queue.remainingCapacity() == 0;
    boolean captureOk = sourceEnded ? sourceError == null
        : captureThread.isAlive() && (sinceFrame <= stallMs || captureBlockedByQueue);
    long sinceHead = TimeUnit.NANOSECONDS.toMillis(now - lastHeadNanos);
    boolean headOk = (workerThread.isAlive() || finished.getCount() == 0) && (queue.isEmpty() || sinceHead <= stallMs);
    MqttLink.Health m = link.health();
    boolean refusedRecently = m.sinceRefusalMillis() >= 0 && m.sinceRefusalMillis() <= stallMs;
    boolean mqttOk = m.healthy() && !refusedRecently;
    boolean ok = captureOk && headOk && mqttOk;
    ObjectNode o = JSON.createObjectNode().put("healthy", ok);
    o.putObject("capture").put("ok", captureOk).put("since_frame_ms", sinceFrame).put("source_ended", sourceEnded)
        .put("captured", captured.sum()).put("dropped", dropped.sum());
    o.putObject("head").put("ok", headOk).put("alive", workerThread.isAlive()).put("since_progress_ms", sinceHead)
        .put("queued", queue.size()).put("failed", failed.sum());
    o.putObject("mqtt").put("ok", mqttOk).put("connected", m.connected()).put("sender_alive", m.senderAlive())
        .put("connect_loop_alive", m.connectLoopAlive()).put("stalled", m.stalled()).put("waiting", m.waiting())
        .put("since_progress_ms", m.sinceProgressMillis()).put("refused", m.refused()).put("since_refusal_ms", m.sinceRefusalMillis())
        .put("thread_failures", m.threadFailures()).put("watchdog_recycles", m.watchdogRecycles());
    return new dev.splitrt.metrics.MetricsServer.Health(ok, o.toString());
  }

  public void start() throws InterruptedException {
    // Re-sent on every reconnect: after an outage the broker's will has overwritten the retained status.
    link.birth(statusTopic, () -> status(settings.deviceId(), "online", model.manifest().id(), head.backendName()));
    log.info("edge {}: {} -> {} on {} -> {} ({} bits, {}, queue {}, fps cap {})", settings.deviceId(), source.describe(),
        model.manifest().id(), head.backendName(), featureTopic, settings.codec().bits(), settings.codec().granularity(),
        settings.queueDepth(), settings.fpsCap() == 0 ? "none" : settings.fpsCap());
    lastCaptureNanos = System.nanoTime();
    lastHeadNanos = System.nanoTime();
    workerThread.start();
    captureThread.start();
  }

  /** Waits until a finite source ended and every captured frame was handled (accepted, dropped or failed). */
  public boolean awaitSourceDone(Duration timeout) throws InterruptedException {
    return finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Set when the source failed (not a clean end of stream). */
  public Optional<Throwable> sourceError() {
    return Optional.ofNullable(sourceError);
  }

  /**
   * Stops capturing, lets the worker finish the frames already queued, waits up to {@code drain} for
   * the outbox to empty, and publishes the retained "offline" status. What is still in the outbox
   * after {@code drain} is reported, not silently discarded.
   */
  public boolean stop(Duration drain) throws InterruptedException {
    stopping = true;
    captureThread.interrupt();
    captureThread.join(drain.toMillis());
    workerThread.join(drain.toMillis());
    boolean drained;
    if (delivery != null) {
      drained = delivery.drain(drain);
      if (!drained) {
        log.warn("edge {}: {} features still unanswered after {} s; they stay in the spool and are sent after the next start",
            settings.deviceId(), delivery.counts().unanswered(), drain.toSeconds());
      }
    } else {
      drained = link.drain(drain);
      // Each publish future completes on the link's completion thread just after the outbox empties:
      // wait for those callbacks, so acked (and what was refused) is final when stop() returns.
      long settleBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      while (drained && acked.sum() + notAcked.sum() < accepted.sum() && System.nanoTime() < settleBy) Thread.sleep(5);
    }
    if (!drained && delivery == null) {
      log.warn("edge {}: {} features still unacknowledged after {} s (broker unreachable?); they were not sent",
          settings.deviceId(), link.stats().outboxMessages(), drain.toSeconds());
    }
    link.birth(null, null); // a reconnect during shutdown must not announce "online" again
    link.publish(statusTopic, status(settings.deviceId(), "offline", model.manifest().id(), head.backendName()), 1, true);
    link.drain(Duration.ofSeconds(2));
    return drained;
  }

  public EdgeStats stats() {
    // With a spool the features are sent by Delivery, which counts the broker's acknowledgements itself.
    long brokerAcked = delivery != null ? delivery.brokerAcked() : acked.sum();
    return new EdgeStats(captured.sum(), accepted.sum(), dropped.sum(), failed.sum(), brokerAcked, featureBytes.sum());
  }

  public EdgeSettings settings() {
    return settings;
  }

  public String backendName() {
    return head.backendName();
  }

  private void captureLoop() {
    long intervalNanos = settings.fpsCap() > 0 ? (long) (1e9 / settings.fpsCap()) : 0;
    long nextDue = System.nanoTime();
    try {
      while (!stopping) {
        if (intervalNanos > 0) {
          long wait = nextDue - System.nanoTime();
          if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
          nextDue = Math.max(nextDue + intervalNanos, System.nanoTime() - intervalNanos);
        }
        Optional<Frame> next = source.next();
        if (next.isEmpty()) break;
        Frame frame = next.get();
        captured.increment();
        lastCaptureNanos = System.nanoTime();
        if (source.live()) {
          while (!queue.offer(frame)) {
            Frame oldest = queue.poll();
            if (oldest != null) {
              oldest.close();
              dropped.increment();
            }
          }
        } else {
          queue.put(frame);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      if (!stopping) { // stop() interrupts a source blocked in a read or in pacing: that is no failure
        sourceError = e;
        log.error("edge {}: source {} failed: {}", settings.deviceId(), source.describe(), e.getMessage());
      }
    } finally {
      sourceEnded = true;
    }
  }

  private void workLoop() {
    FloatBuffer input = head.input();
    try {
      while (true) {
        Frame frame = queue.poll(50, TimeUnit.MILLISECONDS);
        if (frame == null) {
          lastHeadNanos = System.nanoTime(); // idle with nothing to do is progress
          if (sourceEnded && queue.isEmpty()) break;
          continue;
        }
        try (frame) {
          process(frame, input);
        }
        lastHeadNanos = System.nanoTime();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      finished.countDown();
    }
  }

  private void process(Frame frame, FloatBuffer input) throws InterruptedException {
    byte[] message;
    long t0 = System.nanoTime();
    try {
      preprocessor.apply(frame, input);
      long t1 = System.nanoTime();
      FloatBuffer features = head.run();
      long t2 = System.nanoTime();
      FrameHeader header = new FrameHeader(settings.deviceId(), model.manifest().id(), model.headSha256(), frame.sequence(),
          frame.captureEpochMicros(), frame.width(), frame.height(), delivery != null ? delivery.epoch() : 0);
      message = encoder.encode(header, features);
      long t3 = System.nanoTime();
      preprocessTime.recordNanos(t1 - t0);
      headTime.recordNanos(t2 - t1);
      encodeTime.recordNanos(t3 - t2);
    } catch (InferenceException | RuntimeException e) {
      failed.increment();
      long now = System.currentTimeMillis();
      if (now - lastFailureLog.getAndSet(now) > 5_000) {
        log.error("edge {}: frame {} failed ({} failures so far): {}", settings.deviceId(), frame.sequence(), failed.sum(), e.toString());
      }
      return;
    }
    long captureMicros = frame.captureEpochMicros();
    long beforePublish = System.nanoTime();
    if (delivery != null) {
      try {
        if (!delivery.accept(frame.sequence(), featureTopic, captureMicros, message)) return; // spool closed: stopping
      } catch (IOException | RuntimeException e) {
        // Not accepted: the spool could not write it. Counted as failed, never as accepted.
        failed.increment();
        log.error("edge {}: frame {} could not be written to the spool: {}", settings.deviceId(), frame.sequence(), e.toString());
        return;
      }
      publishTime.recordNanos(System.nanoTime() - beforePublish);
      accepted.increment();
      featureBytes.add(message.length);
      return;
    }
    captureToSend.recordNanos((System.currentTimeMillis() * 1000 - captureMicros) * 1000);
    publishFeature(message).whenComplete((ok, error) -> {
      if (error == null) {
        acked.increment();
        ackLatency.recordNanos((System.currentTimeMillis() * 1000 - captureMicros) * 1000);
      } else {
        notAcked.increment();
        log.error("edge {}: broker refused frame {}: {}", settings.deviceId(), frame.sequence(), error.getMessage());
      }
    });
    publishTime.recordNanos(System.nanoTime() - beforePublish);
    accepted.increment();
    featureBytes.add(message.length);
  }

  /** One message, or chunks when the frame is larger than the link's largest packet ({@link FeaturePublisher}). */
  private java.util.concurrent.CompletableFuture<Void> publishFeature(byte[] message) throws InterruptedException {
    FeaturePublisher.Sent sent = FeaturePublisher.publish(link, featureTopic, message, settings.chunking(), 0);
    if (sent.chunked()) chunked.increment();
    return sent.acked();
  }

  private static byte[] status(String deviceId, String state, String modelId, String backend) {
    ObjectNode o = JSON.createObjectNode().put("state", state).put("device", deviceId);
    if (modelId != null) o.put("model", modelId);
    if (backend != null) o.put("backend", backend);
    o.put("ts_ms", System.currentTimeMillis());
    return o.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Stops without draining (use {@link #stop} first for a clean shutdown) and releases the head and the source. */
  @Override
  public void close() {
    stopping = true;
    captureThread.interrupt();
    workerThread.interrupt();
    try {
      captureThread.join(2_000);
      workerThread.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Frame f;
    while ((f = queue.poll()) != null) f.close();
    source.close();
    head.close();
  }
}

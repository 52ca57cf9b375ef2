package dev.splitrt.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.spool.Spool;
import dev.splitrt.spool.Spool.Entry;
import dev.splitrt.spool.Spool.Key;
import dev.splitrt.spool.Spool.Outcome;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.PublishRejectedException;
import dev.splitrt.transport.ReasonCode;
import dev.splitrt.transport.Topics;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * End-to-end delivery over the spool ({@code runtime/docs/delivery.md}): a feature is accepted once
 * it is in the {@link Spool}; this window sends the oldest unanswered features through the
 * {@link MqttLink} (at most {@code window} unanswered at once, so the broker's per-client queue
 * toward a slow or absent tail never holds more than that from this device), and a feature leaves
 * the spool when its result arrives on the device's own results topic, not on PUBACK. A feature whose
 * result has not come {@code resultTimeout} after its PUBACK is sent again, with the timeout doubling
 * up to {@code resultTimeoutMax}. Features older than the spool's max age expire, counted.
 *
 * <p>Threads: one sender thread of its own; results arrive on the link's callback thread and only
 * record an outcome (a short append without fsync). The spool is the source of truth; the link's
 * outbox only holds what is in flight.
 */
public final class Delivery implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Delivery.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @param window unanswered features sent at once at most
   * @param resultTimeout how long after a PUBACK a result may take before the feature is sent again
   * @param resultTimeoutMax the timeout doubles at every resend up to this
   * @param healthMaxWait health is degraded while the oldest unanswered feature waits longer than this
   * @param chunking split a feature larger than the link's largest packet into chunks
   *     ({@code feature-chunk-v1.md}); false: such a feature is refused by the link and expires as
   *     {@code refused}
   */
  public record Settings(int window, Duration resultTimeout, Duration resultTimeoutMax, Duration healthMaxWait,
                         boolean chunking) {
    public static final int DEFAULT_WINDOW = 64;
    public static final Duration DEFAULT_RESULT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_RESULT_TIMEOUT_MAX = Duration.ofSeconds(60);
    public static final Duration DEFAULT_HEALTH_MAX_WAIT = Duration.ofSeconds(30);

    public Settings {
      if (window < 1) throw new IllegalArgumentException("delivery window must be >= 1, was " + window);
      if (resultTimeout.isNegative() || resultTimeout.isZero()) {
        throw new IllegalArgumentException("result timeout must be > 0, was " + resultTimeout);
      }
      if (resultTimeoutMax.compareTo(resultTimeout) < 0) {
        throw new IllegalArgumentException("result timeout max " + resultTimeoutMax + " is below the timeout " + resultTimeout);
      }
    }

    /** With chunking on (the edge config's default). */
    public Settings(int window, Duration resultTimeout, Duration resultTimeoutMax, Duration healthMaxWait) {
      this(window, resultTimeout, resultTimeoutMax, healthMaxWait, true);
    }

    public static Settings defaults() {
      return new Settings(DEFAULT_WINDOW, DEFAULT_RESULT_TIMEOUT, DEFAULT_RESULT_TIMEOUT_MAX, DEFAULT_HEALTH_MAX_WAIT);
    }
  }

  /** Counts of one run: accepted = answered + expired + still in the spool (once idle). */
  public record Counts(long accepted, long answered, long expired, long resent, long duplicateResults, int unanswered) {}

  private final Spool spool;
  private final MqttLink link;
  private final Settings settings;
  private final String deviceId;
  private final String resultsTopic;
  private final Thread sender;
  private final Object signal = new Object();
  private volatile boolean closing;
  /** Set by {@link #wake}, cleared by the sender before it scans: a wake-up during a scan is not lost. */
  private boolean woken;
  private final LongAdder accepted;
  private final LongAdder brokerAcked = new LongAdder();
  private final LongAdder answered;
  private final LongAdder expired;
  private final Map<Outcome, LongAdder> expiredBy = new EnumMap<>(Outcome.class);
  private final LongAdder resent;
  private final LongAdder duplicates;
  private final LongAdder badResults;
  private final LongAdder chunked;
  private final LongAdder resplit;
  private final LatencyHistogram captureToResult;
  private final LatencyHistogram captureToSend;
  private final LatencyHistogram captureToAck;
  private volatile java.util.function.Consumer<Key> answeredListener = k -> {};
  private final Map<Key, Tracking> tracking = new java.util.concurrent.ConcurrentHashMap<>();

  /** Delivery state of one live entry (the spool entry itself is immutable). */
  private static final class Tracking {
    volatile boolean sent;
    volatile long resendAtNanos; // 0: waiting for the PUBACK
    int attempts;
    /** Times it was refused as too large and sent again split (bounded by {@link #MAX_RESPLITS}). */
    volatile int resplits;
    boolean countedChunked;
    /** The broker acknowledged one of its sends (counted once per feature in {@link #brokerAcked}). */
    volatile boolean brokerAcked;
  }

  /**
   * A feature refused as too large (0x95) is split and sent again at most this often: once covers a
   * feature queued whole before the link's first CONNACK told the broker's limit, and a few more a
   * broker whose limit shrank across reconnects; beyond that the refusal is for good.
   */
  static final int MAX_RESPLITS = 3;

  public Delivery(Spool spool, MqttLink link, Settings settings, String fleet, String deviceId, String modelId,
                  MetricsRegistry metrics) {
    this.spool = spool;
    this.link = link;
    this.settings = settings;
    this.deviceId = deviceId;
    this.resultsTopic = Topics.results(fleet, deviceId, modelId);
    accepted = new LongAdder(); // the daemon's splitrt_edge_features_accepted_total counts the same event
    answered = metrics.counter("splitrt_edge_features_answered_total", "Features whose result reached the device");
    expired = metrics.counter("splitrt_edge_features_expired_total", "Features that left the spool without a result");
    for (Outcome o : Outcome.values()) {
      if (o == Outcome.ANSWERED) continue;
      expiredBy.put(o, metrics.counter("splitrt_edge_features_expired_" + o.reason + "_total",
          "Features expired: " + o.reason));
    }
    resent = metrics.counter("splitrt_edge_features_resent_total", "Features sent again because no result came in time");
    duplicates = metrics.counter("splitrt_edge_results_duplicate_total",
        "Results for features no longer in the spool (answered before, or expired)");
    badResults = metrics.counter("splitrt_edge_results_unreadable_total", "Messages on the results topic that are not result JSON");
    captureToResult = metrics.histogram("splitrt_edge_capture_to_result_seconds", "Capture to result at the device");
    // The same names as the in-memory path's (EdgeDaemon), so the two paths compare stage by stage.
    captureToSend = metrics.histogram("splitrt_edge_capture_to_send_seconds", "Capture to the first hand-off to the MQTT link");
    captureToAck = metrics.histogram("splitrt_edge_capture_to_ack_seconds", "Capture to broker acknowledgement");
    // The same counter as the in-memory path's (EdgeDaemon): features sent as chunk sets.
    chunked = metrics.counter("splitrt_edge_features_chunked_total", "Features sent as chunk sets (larger than the broker's maximum packet)");
    resplit = metrics.counter("splitrt_edge_features_resplit_total",
        "Features refused as larger than the connection's maximum packet and sent again as chunks (queued before its CONNACK)");
    metrics.gauge("splitrt_edge_spool_features", "Unanswered features in the spool", spool::liveCount);
    metrics.gauge("splitrt_edge_spool_bytes", "Bytes of spool segments on disk", spool::bytes);
    metrics.gauge("splitrt_edge_spool_oldest_wait_seconds", "Age of the oldest unanswered feature",
        () -> oldestWaitMillis() / 1000.0);
    metrics.gauge("splitrt_edge_spool_fsyncs", "fsyncs of the spool since start", spool::fsyncs);
    metrics.gauge("splitrt_edge_spool_written_bytes", "Bytes appended to the spool since start", spool::bytesWritten);
    metrics.gauge("splitrt_edge_spool_recovered_features", "Unanswered features found in the spool at start",
        () -> spool.recovery().features());
    metrics.gauge("splitrt_edge_spool_cut_records", "Torn or corrupt records cut at start",
        () -> spool.recovery().tornRecords() + spool.recovery().corruptRecords());
    spool.onExpired(this::countExpired);
    sender = new Thread(this::sendLoop, "splitrt-edge-delivery");
    sender.setDaemon(true);
  }

  /** Subscribes to the device's results topic and starts sending what the spool holds (recovered features first). */
  public void start() {
    link.subscribe(resultsTopic, 1, this::onResult);
    sender.start();
  }

  public long epoch() {
    return spool.epoch();
  }

  /** Called on the link's callback thread exactly once per feature, when its first result arrives (tests, tools). */
  public void onAnswered(java.util.function.Consumer<Key> listener) {
    this.answeredListener = listener;
  }

  /** Accepts a feature: returns once it is in the spool (forced under fsync {@code always}). */
  public boolean accept(long sequence, String topic, long captureMicros, byte[] message)
      throws IOException, InterruptedException {
    Entry e = spool.append(sequence, topic, captureMicros, message);
    if (e == null) return false;
    accepted.increment();
    wake();
    return true;
  }

  /** Waits until every feature in the spool has an outcome; false on timeout. */
  public boolean drain(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (spool.liveCount() > 0) {
      if (System.nanoTime() > deadline) return false;
      Thread.sleep(20);
    }
    return true;
  }

  /** Milliseconds the oldest unanswered feature has waited since capture (0 when none). */
  public long oldestWaitMillis() {
    long oldest = spool.oldestCaptureMicros();
    return oldest == Long.MAX_VALUE ? 0 : Math.max(0, System.currentTimeMillis() - oldest / 1000);
  }

  /** False while the oldest unanswered feature has waited longer than {@code healthMaxWait}. */
  public boolean healthy() {
    return oldestWaitMillis() <= settings.healthMaxWait().toMillis();
  }

  public String healthJson() {
    return "{\"spool_features\":" + spool.liveCount() + ",\"spool_bytes\":" + spool.bytes() + ",\"oldest_wait_ms\":"
        + oldestWaitMillis() + ",\"epoch\":" + spool.epoch() + "}";
  }

  /** Features the broker acknowledged (PUBACK of any of their sends), once each: the spool path's "acked". */
  public long brokerAcked() {
    return brokerAcked.sum();
  }

  public Counts counts() {
    return new Counts(accepted.sum(), answered.sum(), expired.sum(), resent.sum(), duplicates.sum(), spool.liveCount());
  }

  /** Runs under the spool's monitor for every expiry, whoever caused it (age, a full spool, a refusal). */
  private void countExpired(Entry e, Outcome why) {
    tracking.remove(e.key);
    expired.increment();
    expiredBy.get(why).increment();
  }

  private void onResult(String topic, byte[] payload) {
    JsonNode r;
    try {
      r = JSON.readTree(payload);
    } catch (IOException e) {
      badResults.increment();
      return;
    }
    if (r == null || !r.path("sequence").canConvertToLong() || !deviceId.equals(r.path("device").asText())) {
      badResults.increment();
      return;
    }
    Key k = new Key(r.path("epoch").asLong(0), r.path("sequence").asLong());
    Entry e = spool.get(k);
    try {
      if (e != null && spool.finish(k, Outcome.ANSWERED)) {
        tracking.remove(k);
        answered.increment();
        answeredListener.accept(k);
        captureToResult.recordNanos((System.currentTimeMillis() * 1000 - e.captureMicros) * 1000);
        wake();
      } else {
        duplicates.increment();
      }
    } catch (IOException ex) {
      log.error("edge {}: could not record the result of epoch {} sequence {} in the spool: {}", deviceId, k.epoch(),
          k.sequence(), ex.toString());
    }
  }

  private void expire(Key k, Outcome why) {
    try {
      spool.finish(k, why);
    } catch (IOException ex) {
      log.error("edge {}: could not record the expiry of sequence {}: {}", deviceId, k.sequence(), ex.toString());
    }
  }

  private void wake() {
    synchronized (signal) {
      woken = true;
      signal.notifyAll();
    }
  }

  private long timeoutNanos(int attempts) {
    long t = settings.resultTimeout().toNanos();
    long max = settings.resultTimeoutMax().toNanos();
    for (int i = 1; i < attempts && t < max; i++) t *= 2;
    return Math.min(t, max);
  }

  private void sendLoop() {
    long nextExpiry = 0;
    List<Entry> due = new ArrayList<>();
    while (!closing) {
      try {
        long now = System.nanoTime();
        if (now >= nextExpiry) {
          int n = spool.expireOld(System.currentTimeMillis() * 1000);
          if (n > 0) {
            log.warn("edge {}: {} features expired unanswered (older than {})", deviceId, n, spool.settings().maxAge());
          }
          nextExpiry = now + TimeUnit.SECONDS.toNanos(1);
        }
        synchronized (signal) {
          woken = false;
        }
        due.clear();
        int[] inWindow = {0};
        spool.forEachLive(e -> {
          Tracking t = tracking.computeIfAbsent(e.key, k -> new Tracking());
          if (t.sent) {
            inWindow[0]++;
            long at = t.resendAtNanos;
            if (at != 0 && now - at >= 0) due.add(e);
            return true;
          }
          if (inWindow[0] >= settings.window()) return false;
          inWindow[0]++;
          due.add(e);
          return true;
        });
        for (Entry e : due) send(e);
        synchronized (signal) {
          if (!woken) signal.wait(20);
        }
      } catch (InterruptedException e) {
        return;
      } catch (IOException | RuntimeException e) {
        if (closing) return;
        log.error("edge {}: delivery loop: {}", deviceId, e.toString());
        try {
          Thread.sleep(200);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private void send(Entry e) throws IOException, InterruptedException {
    Tracking t = tracking.get(e.key);
    if (t == null || spool.get(e.key) == null) return; // answered or expired meanwhile
    byte[] message;
    try {
      message = spool.read(e);
    } catch (IOException gone) {
      if (spool.get(e.key) == null) return; // its segment was reclaimed after an outcome
      throw gone;
    }
    boolean first = t.attempts == 0;
    if (t.sent) resent.increment();
    t.sent = true;
    t.resendAtNanos = 0;
    int attempt = ++t.attempts;
    // The broker may drop it once it is older than the spool's max age: by then the edge expires it too.
    long expiresAt = e.captureMicros / 1000 + spool.settings().maxAge().toMillis();
    FeaturePublisher.Sent sent = FeaturePublisher.publish(link, e.topic, message, settings.chunking(), expiresAt);
    if (sent.chunked() && !t.countedChunked) {
      t.countedChunked = true;
      chunked.increment();
    }
    if (first) captureToSend.recordNanos((System.currentTimeMillis() * 1000 - e.captureMicros) * 1000);
    sent.acked().whenComplete((ok, error) -> {
      if (error == null) {
        if (!t.brokerAcked) {
          t.brokerAcked = true;
          brokerAcked.increment();
        }
        if (attempt == 1) captureToAck.recordNanos((System.currentTimeMillis() * 1000 - e.captureMicros) * 1000);
        t.resendAtNanos = System.nanoTime() + timeoutNanos(attempt);
      } else if (error instanceof PublishRejectedException r && r.code() == ReasonCode.PACKET_TOO_LARGE && settings.chunking()
          && link.maxPacketBytes() > 0 && t.resplits < MAX_RESPLITS) {
        // Sent whole before the link knew the broker's limit (or under a larger one): now it splits.
        t.resplits++;
        resplit.increment();
        t.sent = false; // a first send again, not a resend: the tail never saw it
        wake();
      } else if (error instanceof PublishRejectedException) {
        log.error("edge {}: broker refused epoch {} sequence {} for good: {}", deviceId, e.key.epoch(),
            e.key.sequence(), error.getMessage());
        expire(e.key, Outcome.EXPIRED_REFUSED);
      } else if (!closing) {
        // The link failed the publish (closed, or QoS rules): try again after the timeout.
        t.resendAtNanos = System.nanoTime() + timeoutNanos(attempt);
      }
    });
  }

  /** Stops the sender; the spool keeps what is unanswered for the next start. Does not close the spool or the link. */
  @Override
  public void close() {
    closing = true;
    sender.interrupt();
    try {
      sender.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

package dev.splitrt.transport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import dev.splitrt.metrics.MetricsRegistry;
import javax.net.SocketFactory;
import org.eclipse.paho.mqttv5.client.IMqttToken;
import org.eclipse.paho.mqttv5.client.MqttActionListener;
import org.eclipse.paho.mqttv5.client.MqttAsyncClient;
import org.eclipse.paho.mqttv5.client.MqttCallback;
import org.eclipse.paho.mqttv5.client.MqttClientException;
import org.eclipse.paho.mqttv5.client.MqttConnectionOptions;
import org.eclipse.paho.mqttv5.client.MqttDisconnectResponse;
import org.eclipse.paho.mqttv5.client.persist.MemoryPersistence;
import org.eclipse.paho.mqttv5.common.MqttException;
import org.eclipse.paho.mqttv5.common.MqttMessage;
import org.eclipse.paho.mqttv5.common.MqttSubscription;
import org.eclipse.paho.mqttv5.common.packet.MqttProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One MQTT 5 connection that a device or tail runner can hand messages to and forget: Paho alone
 * gives up when the first connect fails, caps in-flight publishes at the broker's Receive Maximum by
 * throwing, and reconnects without jitter. This class owns the connection instead.
 *
 * <p><b>Connection.</b> A loop thread connects, and after a failed attempt or a lost connection waits
 * a delay drawn from an exponential backoff ({@code backoffMin} doubling to {@code backoffMax}, full
 * jitter above the floor) and tries again, until {@link #close()}. Paho's automatic reconnect is off.
 * One WARN is logged per outage (cause and next delay), attempts in between at DEBUG, one INFO on
 * reconnect. The will (if any) is set on every connect. Every socket, plain or TLS, has TCP_NODELAY
 * set ({@link NoDelaySockets}).
 *
 * <p><b>Session.</b> The settings' session expiry decides ({@code session_expiry_seconds}). At 0 (the
 * edge default) every connect uses Clean Start with session expiry 0: the broker keeps no state for
 * this client between connections, and messages published while a subscriber is offline are not
 * queued for it (with a shared subscription the other members of the group get them). Above 0 (tail
 * runners: 3600) connects do not use Clean Start and the broker keeps the session, queued QoS 1
 * messages included, for that many seconds after a disconnect. Either way the outbox below resends
 * what the broker did not acknowledge, and {@link #subscribe subscriptions} are sent again after
 * every connect (before any queued message is sent).
 *
 * <p><b>Outbox and delivery guarantee.</b> {@link #publish} puts the message into a bounded outbox
 * ({@code outboxBytes} counts payload plus topic bytes) and blocks the caller while it is full:
 * back-pressure, never a dropped message. A sender thread sends in order with at most
 * {@code min(maxInflight, broker Receive Maximum)} unacknowledged publishes. A QoS 1 message leaves
 * the outbox only when its PUBACK arrived; when the connection drops, every unacknowledged message
 * is sent again, in the original order, after the reconnect. That is at-least-once: the broker may
 * get (and subscribers may see) a message twice, so consumers deduplicate (FeatureFrame carries a
 * sequence). A PUBACK with a failure code (0x87 not authorized, 0x97 quota, ...) or a message larger
 * than the broker's Maximum Packet Size fails the future with {@link PublishRejectedException} and is
 * not retried. QoS 0 is best effort: a QoS 0 publish while offline fails at once, and a QoS 0 message
 * that was in flight when the connection dropped is dropped (its future fails). QoS 2 is refused:
 * with clean sessions it cannot be exactly-once.
 *
 * <p><b>Threads.</b> Futures complete on this link's own completion thread, in acknowledgement
 * order, so dependent stages cannot stall Paho. Message handlers run on Paho's callback thread, one
 * message at a time, and the PUBACK for an incoming QoS 1 message is sent when the handler returns: a
 * handler must be quick and must not block on {@link #publish} (hand work off to another thread). An
 * exception from a handler is logged and the link carries on.
 *
 * <p><b>Faults.</b> No thread of this link dies of an unexpected throwable: the sender, the connect
 * loop, the completion thread and Paho's callbacks catch every {@link Throwable}, count it
 * ({@code splitrt_mqtt_thread_failures_total}) and recover: the sender requeues the message and
 * recycles the connection (as after a lost connection). A watchdog in the connect loop recycles a
 * connection that is up with messages waiting but got no acknowledgement for
 * {@code stallTimeout} ({@code splitrt_mqtt_watchdog_recycles_total}), and starts a new sender
 * thread should one ever be gone. A message that was the oldest in flight each time the connection
 * dropped before any acknowledgement, {@value #POISON_DROPS} times in a row, is refused with reason
 * {@code connection_dropped} instead of blocking the outbox forever (seen with Mosquitto's deprecated
 * {@code message_size_limit}: it answers PUBACK 0x95, which MQTT 5 does not allow in a PUBACK, and Paho
 * drops the connection on it). Every refusal is counted: {@code splitrt_mqtt_publish_refused_total}
 * and one counter per reason ({@code splitrt_mqtt_publish_refused_<reason>_total}).
 *
 * <p><b>Will and birth.</b> The will (set at start) is what the broker publishes when this client
 * vanishes without DISCONNECT; the birth ({@link #birth}) is the retained message the link publishes
 * first on every connection, so a status overwritten by the will is repaired by the reconnect.
 *
 * <p><b>Close.</b> {@link #close()} sends a normal DISCONNECT (reason 0x00), so the broker discards
 * the will: a graceful shutdown publishes its own "offline" status before closing. Messages still in
 * the outbox fail their futures; call {@link #drain} first to wait for them.
 */
public final class MqttLink implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MqttLink.class);
  private static final int CONNECT_TIMEOUT_S = 10;
  private static final long SUBSCRIBE_TIMEOUT_MS = 10_000;
  private static final AtomicLong THREADS = new AtomicLong();
  /** Consecutive drops-before-any-ack with the same oldest message after which it is refused. */
  static final int POISON_DROPS = 3;
  private static final long WATCHDOG_TICK_MS = 250;

  /** The last will, published (QoS 1) by the broker when this link's connection dies without DISCONNECT. */
  public record Will(String topic, byte[] payload, boolean retained) {
    public Will {
      checkTopic(topic);
      if (payload == null) {
        throw new IllegalArgumentException("will payload for topic '" + topic + "' is null; give the offline status JSON");
      }
    }
  }

  /** Receives messages for one {@link #subscribe subscription}; runs on Paho's callback thread. */
  public interface MessageHandler {
    void onMessage(String topic, byte[] payload) throws Exception;
  }

  /**
   * {@code published}: messages accepted into the outbox; {@code acked}: acknowledged by the broker
   * (QoS 1 PUBACK; QoS 0 written); {@code reconnects}: successful connects after the first;
   * {@code outboxMessages}/{@code outboxBytes}: what is waiting or in flight now.
   */
  public record Stats(long published, long acked, long reconnects, int outboxMessages, long outboxBytes) {}

  /**
   * What a health endpoint needs: {@code connected}; whether the sender and connect-loop threads are
   * alive; {@code waiting} messages in the outbox; {@code sinceProgressMillis} since the last
   * acknowledgement (or since the outbox last became non-empty, or the last connect); {@code stalled}
   * when messages wait and that exceeds the stall timeout; {@code sinceRefusalMillis} since the broker
   * last refused a message (-1 never); the fault counters.
   */
  public record Health(boolean connected, boolean senderAlive, boolean connectLoopAlive, int waiting,
                       long sinceProgressMillis, boolean stalled, long sinceRefusalMillis, long refused,
                       long threadFailures, long watchdogRecycles) {
    /** Connected, both threads alive and not stalled. */
    public boolean healthy() {
      return connected && senderAlive && connectLoopAlive && !stalled;
    }
  }

  private static final int PENDING = 0;
  private static final int INFLIGHT = 1;
  private static final int DONE = 2;

  private static final class Entry {
    final long seq;
    final String topic;
    final byte[] payload;
    final int qos;
    final boolean retained;
    final long bytes;
    final CompletableFuture<Void> future = new CompletableFuture<>();
    int state = PENDING;
    long generation;
    /** Wall-clock ms after which the broker may discard it (MQTT 5 Message Expiry Interval); 0 = never. */
    long expiresAtMillis;
    /** Consecutive connections that dropped before any ack while this was the oldest in flight. */
    int drops;

    Entry(long seq, String topic, byte[] payload, int qos, boolean retained, long bytes) {
      this.seq = seq;
      this.topic = topic;
      this.payload = payload;
      this.qos = qos;
      this.retained = retained;
      this.bytes = bytes;
    }
  }

  private record Sub(TopicFilter filter, int qos, MessageHandler handler) {}

  /** One connection attempt: its Paho client and what the broker's CONNACK allowed. */
  private static final class Conn {
    final MqttAsyncClient client;
    final long generation;
    int window = 1;
    long maxPacket;
    long acks;
    boolean lost;
    String lostCause;

    Conn(MqttAsyncClient client, long generation) {
      this.client = client;
      this.generation = generation;
    }
  }

  private final MqttSettings settings;
  private final Will will;
  private final SocketFactory socketFactory;
  private final String name;
  private final Object lock = new Object();
  private final TreeMap<Long, Entry> pending = new TreeMap<>();
  private final TreeMap<Long, Entry> inflight = new TreeMap<>();
  private final Map<String, Sub> subs = new LinkedHashMap<>();
  private final ExecutorService completions;
  private final Thread loopThread;
  private volatile Thread senderThread;
  private final String threadId;
  private final MetricsRegistry metrics;
  private final LongAdder threadFailures;
  private final LongAdder watchdogRecycles;
  private final LongAdder refusedTotal;
  /** Package-private fault injection for tests: runs in the sender just before each Paho publish. */
  volatile Runnable beforePublishForTests;
  private long lastProgressNanos = System.nanoTime();
  private long lastRefusalNanos;
  private boolean everRefused;
  private long outboxBytesUsed;
  /** Published first on every connection (see {@link #birth}); null = none. Guarded by lock. */
  private String birthTopic;
  private java.util.function.Supplier<byte[]> birthPayload;
  /** Birth entries take seqs below every ordinary message, so the sender takes them first. */
  private long nextBirthSeq = -1;
  private long nextSeq;
  private long generations;
  private Conn current;
  private boolean closing;
  private long published;
  private long acked;
  private long reconnects;
  private long lastMaxPacket;

  private MqttLink(MqttSettings settings, Will will, SocketFactory socketFactory, MetricsRegistry metrics) {
    this.settings = settings;
    this.metrics = metrics;
    threadFailures = metrics.counter("splitrt_mqtt_thread_failures_total",
        "Unexpected throwables caught in the MQTT link's threads (each recovered from)");
    watchdogRecycles = metrics.counter("splitrt_mqtt_watchdog_recycles_total",
        "Connections recycled because messages waited with no acknowledgement for the stall timeout");
    refusedTotal = metrics.counter("splitrt_mqtt_publish_refused_total",
        "Messages the broker refused for good (PUBACK reason >= 0x80, too large, connection dropped on them)");
    metrics.gauge("splitrt_mqtt_connected", "1 while the MQTT link is connected", () -> connected() ? 1 : 0);
    metrics.gauge("splitrt_mqtt_outbox_messages", "Messages waiting or in flight in the MQTT outbox", () -> stats().outboxMessages());
    this.will = will;
    this.socketFactory = socketFactory;
    this.name = "MQTT link '" + settings.clientId() + "' (" + settings.pahoUrl() + ")";
    long n = THREADS.incrementAndGet();
    String id = settings.clientId() + "-" + n;
    this.threadId = id;
    this.completions = Executors.newSingleThreadExecutor(r -> daemon(r, "splitrt-mqtt-done-" + id));
    this.loopThread = daemon(this::connectLoop, "splitrt-mqtt-conn-" + id);
    this.senderThread = daemon(this::sendLoop, "splitrt-mqtt-send-" + id);
  }

  /**
   * Starts the connection loop and returns at once; never throws for an unreachable broker (it keeps
   * retrying). Throws {@link IllegalArgumentException} for TLS files that cannot be read or do not fit
   * together: that is configuration, not an outage.
   */
  public static MqttLink start(MqttSettings s, Will will) {
    return start(s, will, new MetricsRegistry());
  }

  /** As {@link #start(MqttSettings, Will)}, with the link's counters and gauges in {@code metrics}. */
  public static MqttLink start(MqttSettings s, Will will, MetricsRegistry metrics) {
    SocketFactory sf = new NoDelaySockets.Plain();
    if (s.tlsUrl()) {
      try {
        sf = new NoDelaySockets.Tls(Pem.socketFactory(s.tls()));
      } catch (IOException e) {
        throw new IllegalArgumentException("mqtt tls for client '" + s.clientId() + "': " + e.getMessage(), e);
      }
    }
    MqttLink link = new MqttLink(s, will, sf, metrics);
    link.loopThread.start();
    link.senderThread.start();
    return link;
  }

  /** Waits until the link is connected (subscriptions restored); false on timeout or after close. */
  public boolean awaitConnected(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (current == null && !closing) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return current != null;
    }
  }

  public boolean connected() {
    synchronized (lock) {
      return current != null;
    }
  }

  /**
   * Accepts the message into the outbox, blocking while the outbox is full (back-pressure), and
   * returns a future that completes when the broker acknowledged it (QoS 1) or it was written (QoS 0).
   * Survives disconnects: a QoS 1 message is resent after a reconnect until acknowledged, so it may
   * arrive twice. See the class comment for QoS 0 and for refusals.
   *
   * @throws IllegalArgumentException for a bad topic, qos other than 0/1, or a message larger than the outbox
   * @throws IllegalStateException after {@link #close()}
   */
  public CompletableFuture<Void> publish(String topic, byte[] payload, int qos, boolean retained)
      throws InterruptedException {
    return publish(topic, payload, qos, retained, 0);
  }

  /**
   * As {@link #publish(String, byte[], int, boolean)}, with an MQTT 5 Message Expiry Interval: the
   * broker may discard the message once {@code expiresAtMillis} (wall clock) has passed; each send
   * carries the seconds left (at least 1). 0 = no expiry.
   */
  public CompletableFuture<Void> publish(String topic, byte[] payload, int qos, boolean retained, long expiresAtMillis)
      throws InterruptedException {
    int topicBytes = checkTopic(topic);
    if (payload == null) {
      throw new IllegalArgumentException("payload for topic '" + topic + "' is null");
    }
    if (qos != 0 && qos != 1) {
      throw new IllegalArgumentException("qos " + qos + " for topic '" + topic + "': use 1 (at least once) or 0 "
          + "(best effort); 2 cannot be exactly-once with this link's clean sessions");
    }
    long bytes = (long) payload.length + topicBytes;
    if (bytes > settings.outboxBytes()) {
      throw new IllegalArgumentException("message to '" + topic + "' takes " + bytes + " bytes but the outbox holds "
          + settings.outboxBytes() + "; raise outboxBytes or send smaller messages");
    }
    Entry e;
    synchronized (lock) {
      if (closing) {
        throw new IllegalStateException(name + " is closed; cannot publish to '" + topic + "'");
      }
      if (qos == 0 && current == null) {
        return CompletableFuture.failedFuture(new IllegalStateException(name
            + " is offline: QoS 0 message to '" + topic + "' dropped; use QoS 1 to have it kept and resent"));
      }
      while (!closing && outboxBytesUsed + bytes > settings.outboxBytes()) {
        lock.wait();
      }
      if (closing) {
        throw new IllegalStateException(name + " was closed while publish to '" + topic + "' waited for outbox space");
      }
      e = new Entry(nextSeq++, topic, payload, qos, retained, bytes);
      e.expiresAtMillis = expiresAtMillis;
      if (pending.isEmpty() && inflight.isEmpty()) {
        lastProgressNanos = System.nanoTime(); // the watchdog measures waiting from here
      }
      pending.put(e.seq, e);
      outboxBytesUsed += bytes;
      published++;
      lock.notifyAll();
    }
    return e.future;
  }

  /**
   * Sets the retained "birth" message: the link publishes it (QoS 1, retained) ahead of every other
   * message on each connection, the first and every reconnect, with the payload made at that connect.
   * Why: after an outage in which the broker fired this client's will, the retained status reads
   * "offline" although the client is back; a message sent once at start cannot repair that. It does
   * not count against back-pressure (one small message per connect). Null stops it, e.g. before a
   * graceful shutdown publishes its own offline status. If already connected, it is sent at once.
   */
  public void birth(String topic, java.util.function.Supplier<byte[]> payload) {
    if (topic != null) {
      checkTopic(topic);
    }
    synchronized (lock) {
      birthTopic = topic;
      birthPayload = topic == null ? null : payload;
      if (current != null && birthTopic != null) {
        queueBirthLocked();
      }
    }
  }

  /** Puts a fresh birth message at the head of the outbox, replacing one not yet sent. */
  private void queueBirthLocked() {
    byte[] payload = birthPayload.get();
    pending.values().removeIf(old -> {
      if (old.seq < 0 && old.state == PENDING) {
        outboxBytesUsed -= old.bytes;
        old.state = DONE;
        old.future.cancel(false);
        return true;
      }
      return false;
    });
    long bytes = (long) payload.length + birthTopic.getBytes(StandardCharsets.UTF_8).length;
    Entry e = new Entry(nextBirthSeq--, birthTopic, payload, 1, true, bytes);
    e.future.whenComplete((ok, failed) -> {
      if (failed != null && !(failed instanceof java.util.concurrent.CancellationException)) {
        log.warn("{}: birth message to '{}' not delivered: {}", name, e.topic, failed.getMessage());
      }
    });
    if (pending.isEmpty() && inflight.isEmpty()) {
      lastProgressNanos = System.nanoTime();
    }
    pending.put(e.seq, e);
    outboxBytesUsed += bytes;
    published++;
    lock.notifyAll();
  }

  /**
   * Subscribes {@code handler} to {@code filter} (a topic filter with + and #, or
   * {@code $share/<group>/<filter>}) now if connected and again after every reconnect. One handler per
   * filter: subscribing the same filter again replaces it. When connected, returns after the broker's
   * SUBACK; when offline, returns at once and the subscription is sent on connect.
   *
   * @throws IllegalStateException when the broker refuses the subscription (e.g. 0x87 not authorized),
   *     or after close
   */
  public void subscribe(String filter, int qos, MessageHandler handler) {
    TopicFilter parsed = TopicFilter.of(filter);
    if (qos != 0 && qos != 1) {
      throw new IllegalArgumentException("subscription qos " + qos + " for '" + filter + "': use 0 or 1");
    }
    if (handler == null) {
      throw new IllegalArgumentException("handler for '" + filter + "' is null");
    }
    Sub s = new Sub(parsed, qos, handler);
    Conn c;
    Sub previous;
    synchronized (lock) {
      if (closing) {
        throw new IllegalStateException(name + " is closed; cannot subscribe to '" + filter + "'");
      }
      previous = subs.put(filter, s);
      c = current;
    }
    if (c == null || (previous != null && previous.qos() == qos)) {
      return;
    }
    try {
      subscribeOn(c, s);
    } catch (SubscriptionRefused refused) {
      synchronized (lock) {
        subs.remove(filter, s);
      }
      throw new IllegalStateException(refused.getMessage(), refused);
    } catch (MqttException e) {
      log.debug("{}: subscribe to '{}' did not complete ({}); it is sent again on reconnect", name, filter, describe(e));
    }
  }

  public Stats stats() {
    synchronized (lock) {
      return new Stats(published, acked, reconnects, pending.size() + inflight.size(), outboxBytesUsed);
    }
  }

  public Health health() {
    synchronized (lock) {
      long now = System.nanoTime();
      int waiting = pending.size() + inflight.size();
      long since = TimeUnit.NANOSECONDS.toMillis(now - lastProgressNanos);
      boolean stalled = waiting > 0 && since > settings.stallTimeout().toMillis();
      Thread sender = senderThread;
      return new Health(current != null, sender.isAlive(), loopThread.isAlive() || closing, waiting, since, stalled,
          everRefused ? TimeUnit.NANOSECONDS.toMillis(now - lastRefusalNanos) : -1, refusedTotal.sum(),
          threadFailures.sum(), watchdogRecycles.sum());
    }
  }

  /**
   * The largest PUBLISH packet the current connection carries: the smaller of the broker's Maximum
   * Packet Size (from CONNACK) and the configured cap; 0 when neither limits it. Known once connected;
   * while offline, the last connection's value (0 before the first connect).
   */
  public long maxPacketBytes() {
    synchronized (lock) {
      return lastMaxPacket > 0 ? lastMaxPacket : settings.maxPacketBytes();
    }
  }

  /** Bytes of a QoS 1 PUBLISH packet of {@code payloadBytes} on {@code topic}, as this link writes it. */
  public static long publishPacketBytes(String topic, int payloadBytes) {
    return publishPacketBytes(topic, payloadBytes, false);
  }

  /** As above; {@code expiring}: the message carries a Message Expiry Interval (5 more bytes of properties). */
  public static long publishPacketBytes(String topic, int payloadBytes, boolean expiring) {
    int topicBytes = checkTopic(topic);
    return packetSize(topicBytes, payloadBytes, 1) + (expiring ? EXPIRY_PROPERTY_BYTES : 0);
  }

  /** Waits until the outbox is empty (everything acknowledged or failed); false on timeout. */
  public boolean drain(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (!pending.isEmpty() || !inflight.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  /**
   * Stops the loop, sends a normal DISCONNECT (the broker discards the will), fails the futures of
   * messages still in the outbox and releases all threads. Idempotent.
   */
  @Override
  public void close() {
    synchronized (lock) {
      if (closing) {
        return;
      }
      closing = true;
      lock.notifyAll();
    }
    loopThread.interrupt();
    joinQuietly(loopThread, (CONNECT_TIMEOUT_S + 5) * 1000L);
    joinQuietly(senderThread, 5000);
    List<Entry> left;
    synchronized (lock) {
      left = new ArrayList<>(inflight.values());
      left.addAll(pending.values());
      inflight.clear();
      pending.clear();
      for (Entry e : left) {
        e.state = DONE;
      }
      outboxBytesUsed = 0;
      lock.notifyAll();
    }
    for (Entry e : left) {
      complete(e, new IllegalStateException(name + " closed before the broker acknowledged the message to '"
          + e.topic + "'; call drain() before close() to wait for acknowledgements"));
    }
    completions.shutdown();
    try {
      completions.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------- connection loop

  private void connectLoop() {
    Backoff backoff = new Backoff(settings.backoffMin(), settings.backoffMax(), new SplittableRandom());
    long outageStart = -1;
    int attempts = 0;
    boolean everConnected = false;
    try {
      while (!isClosing()) {
        Conn conn = null;
        String cause;
        try {
          try {
            conn = connectOnce();
            cause = null;
          } catch (MqttException | RuntimeException e) {
            cause = describe(e);
          }
          if (conn != null) {
            int backlog;
            synchronized (lock) {
              backlog = pending.size() + inflight.size();
              if (everConnected) {
                reconnects++;
              }
            }
            if (outageStart >= 0) {
              log.info("{} reconnected after {} and {} attempt(s); {} message(s) to send", name,
                  seconds(System.nanoTime() - outageStart), attempts + 1, backlog);
            } else if (!everConnected) {
              log.info("{} connected ({} publishes in flight at most, max packet {})", name, conn.window,
                  conn.maxPacket == 0 ? "unlimited" : conn.maxPacket + " bytes");
            }
            everConnected = true;
            outageStart = -1;
            attempts = 0;
            backoff.reset();
            String stall = watchConnection(conn);
            if (stall != null) {
              watchdogRecycles.increment();
              log.warn("{}: {}; recycling the connection", name, stall);
              connectionLost(conn, stall);
            }
            int unacked;
            synchronized (lock) {
              if (closing) {
                break;
              }
              cause = conn.lostCause;
              unacked = pending.size() + inflight.size();
            }
            closeClient(conn.client, false);
            cause = "connection lost (" + cause + "); " + unacked + " unacknowledged message(s) will be resent";
          }
        } catch (InterruptedException e) {
          throw e;
        } catch (Throwable t) {
          // Whatever went wrong, the loop carries on: drop this connection and try again after a backoff.
          threadFailure("connect loop", t);
          if (conn != null) {
            connectionLost(conn, "unexpected " + describe(t));
            closeClient(conn.client, false);
          }
          cause = "unexpected " + t;
        }
        if (isClosing()) {
          break;
        }
        attempts++;
        Duration delay = backoff.next();
        if (outageStart < 0) {
          outageStart = System.nanoTime();
          log.warn("{}: {}; retrying in {} (backoff {}..{} with jitter; attempts logged at DEBUG until connected)",
              name, conn == null ? "cannot connect: " + cause : cause, seconds(delay.toNanos()),
              seconds(settings.backoffMin().toNanos()), seconds(settings.backoffMax().toNanos()));
        } else {
          log.debug("{}: attempt {} failed: {}; next in {}", name, attempts, cause, seconds(delay.toNanos()));
        }
        long deadline = System.nanoTime() + delay.toNanos();
        synchronized (lock) {
          while (!closing) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              break;
            }
            TimeUnit.NANOSECONDS.timedWait(lock, left);
          }
        }
      }
    } catch (InterruptedException e) {
      // close() interrupts to cut a connect or subscribe wait short
    } finally {
      Thread.interrupted();
      Conn c;
      synchronized (lock) {
        c = current;
        current = null;
        lock.notifyAll();
      }
      if (c != null) {
        closeClient(c.client, !c.lost);
      }
    }
  }

  /**
   * The watchdog, while {@code conn} is up: returns when the connection is lost or the link closes
   * (null), or with the reason to recycle it: messages waiting with no acknowledgement for the stall
   * timeout. Also replaces a sender thread that is gone (it catches everything, so this is a last line).
   */
  private String watchConnection(Conn conn) throws InterruptedException {
    long stallNanos = settings.stallTimeout().toNanos();
    synchronized (lock) {
      while (!closing && !conn.lost) {
        lock.wait(WATCHDOG_TICK_MS);
        if (closing || conn.lost) {
          return null;
        }
        int waiting = pending.size() + inflight.size();
        long idle = System.nanoTime() - lastProgressNanos;
        if (waiting > 0 && idle > stallNanos) {
          return "watchdog: " + waiting + " message(s) waiting and no acknowledgement for " + seconds(idle)
              + " (stall timeout " + seconds(stallNanos) + ")";
        }
        if (!senderThread.isAlive()) {
          threadFailures.increment();
          log.error("{}: the sender thread is gone; starting a new one", name);
          senderThread = daemon(this::sendLoop, "splitrt-mqtt-send-" + threadId);
          senderThread.start();
        }
      }
      return null;
    }
  }

  private void threadFailure(String where, Throwable t) {
    threadFailures.increment();
    log.error("{}: unexpected {} in the {} ({} so far); recovering", name, t.getClass().getName(), where,
        threadFailures.sum(), t);
  }

  /** Connects a fresh Paho client and restores the subscriptions; returns it published as {@link #current}. */
  private Conn connectOnce() throws MqttException, InterruptedException {
    MqttAsyncClient client = new MqttAsyncClient(settings.pahoUrl(), settings.clientId(), new MemoryPersistence());
    Conn conn;
    synchronized (lock) {
      conn = new Conn(client, ++generations);
    }
    client.setCallback(new Callbacks(conn));
    try {
      IMqttToken t = client.connect(options());
      t.waitForCompletion((CONNECT_TIMEOUT_S + 1) * 1000L);
      MqttProperties p = t.getResponseProperties();
      Integer receiveMax = p == null ? null : p.getReceiveMaximum();
      Long maxPacket = p == null ? null : p.getMaximumPacketSize();
      conn.window = Math.min(settings.maxInflight(), receiveMax == null ? 65535 : receiveMax);
      long brokerMax = maxPacket == null ? 0 : maxPacket;
      long cap = settings.maxPacketBytes();
      conn.maxPacket = brokerMax == 0 ? cap : cap == 0 ? brokerMax : Math.min(brokerMax, cap);
      Set<Sub> restored = Collections.newSetFromMap(new IdentityHashMap<>());
      while (true) {
        List<Sub> todo = new ArrayList<>();
        synchronized (lock) {
          for (Sub s : subs.values()) {
            if (!restored.contains(s)) {
              todo.add(s);
            }
          }
          if (todo.isEmpty()) {
            if (closing) {
              throw new InterruptedException("closing");
            }
            if (conn.lost) {
              throw new MqttException(MqttClientException.REASON_CODE_CONNECTION_LOST);
            }
            current = conn;
            lastMaxPacket = conn.maxPacket;
            if (birthTopic != null) {
              queueBirthLocked();
            }
            lastProgressNanos = System.nanoTime(); // a fresh connection gets a whole stall timeout
            lock.notifyAll();
            return conn;
          }
        }
        for (Sub s : todo) {
          try {
            subscribeOn(conn, s);
          } catch (SubscriptionRefused refused) {
            log.error("{}", refused.getMessage());
          }
          restored.add(s);
        }
      }
    } catch (Throwable e) {
      closeClient(client, false);
      throw e;
    }
  }

  MqttConnectionOptions options() {
    MqttConnectionOptions o = new MqttConnectionOptions();
    // Clean sessions unless the settings ask the broker to keep this client's session (subscribers).
    o.setCleanStart(settings.sessionExpirySeconds() == 0);
    o.setSessionExpiryInterval(settings.sessionExpirySeconds());
    o.setAutomaticReconnect(false);
    o.setKeepAliveInterval(settings.keepAliveSeconds());
    o.setConnectionTimeout(CONNECT_TIMEOUT_S);
    o.setReceiveMaximum(settings.maxInflight());
    if (settings.receiveMaxPacketBytes() > 0) {
      // The broker must not send us anything larger: it drops such messages for this client instead.
      o.setMaximumPacketSize(settings.receiveMaxPacketBytes());
    }
    if (settings.username() != null) {
      o.setUserName(settings.username());
    }
    if (settings.password() != null) {
      o.setPassword(settings.password().getBytes(StandardCharsets.UTF_8));
    }
    if (will != null) {
      o.setWill(will.topic(), new MqttMessage(will.payload(), 1, will.retained(), null));
    }
    // Always our own factory, plain too: it turns Nagle off (see NoDelaySockets).
    o.setSocketFactory(socketFactory);
    if (settings.tlsUrl()) {
      o.setHttpsHostnameVerificationEnabled(true);
    }
    return o;
  }

  private static final class SubscriptionRefused extends Exception {
    SubscriptionRefused(String message) {
      super(message);
    }
  }

  private void subscribeOn(Conn conn, Sub s) throws MqttException, SubscriptionRefused {
    IMqttToken t = conn.client.subscribe(new MqttSubscription(s.filter().value(), s.qos()));
    t.waitForCompletion(SUBSCRIBE_TIMEOUT_MS);
    int[] codes = t.getReasonCodes();
    int code = codes == null || codes.length == 0 ? 0 : codes[0];
    if (code >= 0x80) {
      throw new SubscriptionRefused(name + ": the broker refused the subscription to '" + s.filter() + "' with reason 0x"
          + Integer.toHexString(code) + " (" + ReasonCode.subscribeFix(code) + ")");
    }
  }

  /** Paho's callbacks for one connection; events from an older connection are ignored. */
  private final class Callbacks implements MqttCallback {
    private final Conn conn;

    Callbacks(Conn conn) {
      this.conn = conn;
    }

    @Override
    public void disconnected(MqttDisconnectResponse r) {
      String cause = "connection lost";
      try {
        if (r.getException() != null) {
          cause = describe(r.getException());
        } else {
          cause = "broker sent DISCONNECT 0x" + Integer.toHexString(r.getReturnCode())
              + (r.getReasonString() == null ? "" : " " + r.getReasonString());
        }
      } catch (Throwable t) {
        threadFailure("disconnect callback", t);
      } finally {
        connectionLost(conn, cause);
      }
    }

    @Override
    public void mqttErrorOccurred(MqttException e) {
      log.warn("{}: MQTT protocol error: {}", name, describe(e));
    }

    @Override
    public void messageArrived(String topic, MqttMessage message) {
      try {
        dispatch(topic, message.getPayload());
      } catch (Throwable t) {
        threadFailure("message callback", t);
      }
    }

    @Override
    public void deliveryComplete(IMqttToken token) {
      // completion is tracked per publish by Ack
    }

    @Override
    public void connectComplete(boolean reconnect, String serverUri) {
      // the connect loop tracks the state
    }

    @Override
    public void authPacketArrived(int reasonCode, MqttProperties properties) {
      // no enhanced authentication
    }
  }

  private void connectionLost(Conn conn, String cause) {
    List<Entry> dropped = new ArrayList<>();
    Entry poisoned = null;
    synchronized (lock) {
      if (conn.lost) {
        return;
      }
      conn.lost = true;
      conn.lostCause = cause;
      if (current == conn) {
        current = null;
      }
      // The oldest message sent on this connection (Paho may have failed its token, and so requeued
      // it, before telling us the connection is gone).
      Entry oldest = null;
      for (TreeMap<Long, Entry> m : List.of(inflight, pending)) {
        for (Entry e : m.values()) {
          if (e.generation == conn.generation && (oldest == null || e.seq < oldest.seq)) {
            oldest = e;
            break;
          }
        }
      }
      if (oldest != null && conn.acks > 0) {
        oldest.drops = 0; // not "in a row" any more
      } else if (oldest != null && oldest.qos > 0 && ++oldest.drops >= POISON_DROPS) {
        // The same message heads every connection that dies before its first ack: the broker (or
        // Paho) will not take it. Refuse it so the messages behind it can go.
        inflight.remove(oldest.seq);
        pending.remove(oldest.seq);
        finishLocked(oldest, false);
        poisoned = oldest;
      }
      for (Entry e : new ArrayList<>(inflight.values())) {
        if (e.generation != conn.generation) {
          continue;
        }
        inflight.remove(e.seq);
        if (e.qos == 0) {
          finishLocked(e, false);
          dropped.add(e);
        } else {
          e.state = PENDING;
          pending.put(e.seq, e);
        }
      }
      lock.notifyAll();
    }
    if (poisoned != null) {
      refuse(poisoned, new PublishRejectedException(poisoned.topic, PublishRejectedException.CONNECTION_DROPPED, name
          + ": the connection dropped before any acknowledgement " + POISON_DROPS + " times in a row while the message to '"
          + poisoned.topic + "' (" + poisoned.payload.length + " bytes) was the oldest in flight (last: " + cause + "); "
          + PublishRejectedException.describe(PublishRejectedException.CONNECTION_DROPPED)));
    }
    for (Entry e : dropped) {
      complete(e, new IllegalStateException(name + ": QoS 0 message to '" + e.topic
          + "' dropped with the connection (" + cause + "); use QoS 1 to have it resent"));
    }
  }

  private void dispatch(String topic, byte[] payload) {
    List<Sub> matching = new ArrayList<>(1);
    synchronized (lock) {
      for (Sub s : subs.values()) {
        if (s.filter().matches(topic)) {
          matching.add(s);
        }
      }
    }
    if (matching.isEmpty()) {
      log.debug("{}: message on '{}' matches no subscription; ignored", name, topic);
    }
    for (Sub s : matching) {
      try {
        s.handler().onMessage(topic, payload);
      } catch (Throwable t) {
        log.warn("{}: handler for '{}' failed on a message from '{}' ({} bytes); the link carries on", name,
            s.filter(), topic, payload.length, t);
      }
    }
  }

  // ---------------------------------------------------------------- sender

  private void sendLoop() {
    while (true) {
      Entry e = null;
      Conn c = null;
      try {
        PublishRejectedException tooLarge = null;
        synchronized (lock) {
          while (!closing && (current == null || pending.isEmpty() || inflight.size() >= current.window)) {
            lock.wait();
          }
          if (closing) {
            return;
          }
          c = current;
          e = pending.pollFirstEntry().getValue();
          long size = packetSize(e);
          if (c.maxPacket > 0 && size > c.maxPacket) {
            finishLocked(e, false);
            tooLarge = new PublishRejectedException(e.topic, ReasonCode.PACKET_TOO_LARGE.value(), name + ": message to '" + e.topic + "' is " + size
                + " bytes on the wire but the largest packet this connection carries is " + c.maxPacket
                + " bytes (broker's Maximum Packet Size or the configured max_packet_bytes; 0x95 "
                + ReasonCode.PACKET_TOO_LARGE.publishFixText() + ")");
          } else {
            e.state = INFLIGHT;
            e.generation = c.generation;
            inflight.put(e.seq, e);
          }
        }
        if (tooLarge != null) {
          refuse(e, tooLarge);
          continue;
        }
        Runnable fault = beforePublishForTests;
        if (fault != null) {
          fault.run();
        }
        try {
          MqttProperties props = null;
          if (e.expiresAtMillis > 0) {
            props = new MqttProperties();
            props.setMessageExpiryInterval(Math.max(1L, (e.expiresAtMillis - System.currentTimeMillis() + 999) / 1000));
          }
          c.client.publish(e.topic, new MqttMessage(e.payload, e.qos, e.retained, props), null, new Ack(e, c));
        } catch (MqttException ex) {
          sendFailed(e, c, ex);
        }
      } catch (InterruptedException ie) {
        if (isClosing()) {
          return; // close()
        }
      } catch (Throwable t) {
        // E.g. a NullPointerException from inside Paho: put the message back and start a fresh connection.
        threadFailure("sender", t);
        try {
          if (e != null && c != null) {
            synchronized (lock) {
              if (e.state == INFLIGHT && e.generation == c.generation) {
                inflight.remove(e.seq);
                e.state = PENDING;
                pending.put(e.seq, e);
              } else if (e.state == PENDING && !pending.containsKey(e.seq)) {
                pending.put(e.seq, e);
              }
            }
            connectionLost(c, "unexpected " + describe(t) + " in the sender");
          }
          Thread.sleep(100); // never a hot loop
        } catch (Throwable again) {
          threadFailures.increment();
        }
      }
    }
  }

  private void sendFailed(Entry e, Conn c, MqttException ex) throws InterruptedException {
    if (ex.getReasonCode() == MqttClientException.REASON_CODE_OUTGOING_PACKET_TOO_LARGE) {
      synchronized (lock) {
        if (e.state != INFLIGHT || e.generation != c.generation) {
          return;
        }
        inflight.remove(e.seq);
        finishLocked(e, false);
      }
      refuse(e, new PublishRejectedException(e.topic, ReasonCode.PACKET_TOO_LARGE.value(), name + ": message to '" + e.topic + "' ("
          + e.payload.length + " bytes) is larger than the broker accepts (0x95 " + ReasonCode.PACKET_TOO_LARGE.publishFixText() + ")"));
      return;
    }
    synchronized (lock) {
      if (e.state == INFLIGHT && e.generation == c.generation) {
        inflight.remove(e.seq);
        e.state = PENDING;
        pending.put(e.seq, e);
      }
      if (ex.getReasonCode() == MqttClientException.REASON_CODE_MAX_INFLIGHT) {
        c.window = Math.max(1, inflight.size());
      }
      // the connection is probably going down: let the loop notice before sending again
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
      while (!closing && current == c && !c.lost) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
    }
    log.debug("{}: publish to '{}' not accepted by Paho ({}); will retry", name, e.topic, describe(ex));
  }

  /** Completion of one publish on one connection. */
  private final class Ack implements MqttActionListener {
    private final Entry e;
    private final Conn conn;

    Ack(Entry e, Conn conn) {
      this.e = e;
      this.conn = conn;
    }

    @Override
    public void onSuccess(IMqttToken token) {
      try {
        int[] codes = token.getReasonCodes();
        int code = codes == null || codes.length == 0 ? 0 : codes[0];
        boolean ok = e.qos == 0 || code < 0x80;
        synchronized (lock) {
          if (e.state == DONE) {
            return;
          }
          inflight.remove(e.seq);
          pending.remove(e.seq);
          if (e.generation == conn.generation) {
            conn.acks++;
          }
          lastProgressNanos = System.nanoTime();
          finishLocked(e, ok);
        }
        if (ok) {
          complete(e, null);
        } else {
          refuse(e, new PublishRejectedException(e.topic, code, name + ": the broker refused the message to '"
              + e.topic + "' with reason 0x" + Integer.toHexString(code) + " (" + PublishRejectedException.describe(code)
              + "); it is not retried"));
        }
      } catch (Throwable t) {
        threadFailure("acknowledgement callback", t);
      }
    }

    @Override
    public void onFailure(IMqttToken token, Throwable ex) {
      try {
        failed(ex);
      } catch (Throwable t) {
        threadFailure("acknowledgement callback", t);
      }
    }

    private void failed(Throwable ex) {
      boolean drop = false;
      synchronized (lock) {
        if (e.state != INFLIGHT || e.generation != conn.generation) {
          return;
        }
        inflight.remove(e.seq);
        if (e.qos == 0) {
          finishLocked(e, false);
          drop = true;
        } else {
          e.state = PENDING;
          pending.put(e.seq, e);
        }
        lock.notifyAll();
      }
      if (drop) {
        complete(e, new IllegalStateException(name + ": QoS 0 message to '" + e.topic + "' dropped ("
            + describe(ex) + "); use QoS 1 to have it resent"));
      }
    }
  }

  /** Under {@link #lock}: the entry leaves the outbox. */
  private void finishLocked(Entry e, boolean ack) {
    e.state = DONE;
    outboxBytesUsed -= e.bytes;
    if (ack) {
      acked++;
    }
    lock.notifyAll();
  }

  /** Counts a refusal (total and per reason), notes its time for health, and fails the future. */
  private void refuse(Entry e, PublishRejectedException why) {
    refusedTotal.increment();
    metrics.counter("splitrt_mqtt_publish_refused_" + why.reason() + "_total",
        "Messages refused: " + PublishRejectedException.describe(why.reasonCode())).increment();
    synchronized (lock) {
      lastRefusalNanos = System.nanoTime();
      everRefused = true;
    }
    complete(e, why);
  }

  private void complete(Entry e, Throwable failure) {
    Runnable done = failure == null ? () -> e.future.complete(null) : () -> e.future.completeExceptionally(failure);
    Runnable r = () -> {
      try {
        done.run();
      } catch (Throwable t) {
        threadFailure("completion thread", t);
      }
    };
    try {
      completions.execute(r);
    } catch (RejectedExecutionException closed) {
      r.run();
    }
  }

  // ---------------------------------------------------------------- helpers

  private boolean isClosing() {
    synchronized (lock) {
      return closing;
    }
  }

  /** Bytes of the PUBLISH packet Paho writes for this entry (no properties). */
  /** A Message Expiry Interval property on the wire: identifier 0x02 and a four-byte integer. */
  static final int EXPIRY_PROPERTY_BYTES = 5;

  static long packetSize(Entry e) {
    return packetSize(e.bytes - e.payload.length, e.payload.length + (e.expiresAtMillis > 0 ? EXPIRY_PROPERTY_BYTES : 0),
        e.qos);
  }

  /** {@code payloadBytes} may include property bytes beyond the empty property list's length byte. */
  static long packetSize(long topicBytes, long payloadBytes, int qos) {
    long remaining = 2L + topicBytes + (qos > 0 ? 2 : 0) + 1 + payloadBytes;
    int lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
    return 1 + lengthBytes + remaining;
  }

  private void closeClient(MqttAsyncClient client, boolean graceful) {
    if (graceful) {
      try {
        client.disconnect(100, null, null, 0, new MqttProperties()).waitForCompletion(3000);
      } catch (MqttException | RuntimeException e) {
        log.debug("{}: graceful disconnect failed ({}); closing the socket", name, describe(e));
      }
    }
    try {
      if (client.isConnected()) {
        client.disconnectForcibly(0, 1000, false);
      }
    } catch (MqttException | RuntimeException e) {
      log.debug("{}: forced disconnect: {}", name, describe(e));
    }
    try {
      client.close(true);
    } catch (MqttException | RuntimeException e) {
      log.debug("{}: close: {}", name, describe(e));
    }
  }

  /** Returns the UTF-8 length of a valid publish topic. */
  static int checkTopic(String topic) {
    if (topic == null || topic.isEmpty()) {
      throw new IllegalArgumentException("topic is empty; build it with Topics");
    }
    if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0 || topic.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("topic '" + topic + "' contains '+', '#' or NUL; a publish topic has no wildcards");
    }
    int n = topic.getBytes(StandardCharsets.UTF_8).length;
    if (n > 65535) {
      throw new IllegalArgumentException("topic of " + n + " bytes is longer than MQTT's 65535");
    }
    return n;
  }

  static String describe(Throwable t) {
    StringBuilder sb = new StringBuilder();
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    while (t != null && seen.add(t)) {
      if (sb.length() > 0) {
        sb.append(" <- ");
      }
      String m = t.getMessage();
      sb.append(m == null || m.isBlank() ? t.getClass().getSimpleName() : m);
      if (t instanceof MqttException me && me.getReasonCode() != 0 && (m == null || !m.contains("(" + me.getReasonCode() + ")"))) {
        sb.append(" (").append(me.getReasonCode()).append(')');
      }
      t = t.getCause();
    }
    return sb.toString();
  }

  private static String seconds(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.2f s", nanos / 1e9);
  }

  private static Thread daemon(Runnable r, String threadName) {
    Thread t = new Thread(r, threadName);
    t.setDaemon(true);
    return t;
  }

  private static void joinQuietly(Thread t, long millis) {
    try {
      t.join(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

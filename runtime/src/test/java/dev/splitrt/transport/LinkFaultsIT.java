package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.testsupport.Mosquitto;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link that cannot stall silently, against real Mosquitto processes: a broker whose answer kills the
 * connection, an unexpected throwable in the sender, a frozen broker.
 */
class LinkFaultsIT {
  private static final Duration T = Duration.ofSeconds(30);
  @TempDir Path dir;

  @BeforeAll
  static void mosquitto() {
    Mosquitto.assumeAvailable();
  }

  private static long counter(MetricsRegistry m, String name) {
    for (String line : m.prometheusText().split("\n")) {
      if (line.startsWith(name + " ")) {
        return (long) Double.parseDouble(line.substring(name.length() + 1));
      }
    }
    return 0;
  }

  /**
   * The known failure: Mosquitto 2.0.11 with the deprecated {@code message_size_limit} answers a larger
   * QoS 1 message with PUBACK 0x95, a code MQTT 5 does not allow in a PUBACK; Paho drops the connection
   * on it, and the link used to resend it first after every reconnect, for ever, with nothing behind
   * it getting through. Now each such message is refused and counted, and every other one arrives.
   */
  @Test
  void aMessageTheBrokerKillsTheConnectionOnIsRefusedAndCountedAndTheRestArrive() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto m = Mosquitto.start(dir, "message_size_limit 2048");
         MqttLink sub = MqttLink.start(Inbox.fast(m.url(), "sub"), null);
         MqttLink pub = MqttLink.start(Inbox.fast(m.url(), "pub"), null, metrics)) {
      assertThat(sub.awaitConnected(T)).isTrue();
      Inbox inbox = new Inbox();
      String topic = Topics.features("f", "d", "m");
      sub.subscribe(topic, 1, inbox);
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      Set<Long> small = new TreeSet<>();
      Set<Long> big = new TreeSet<>();
      for (long seq = 0; seq < 16; seq++) {
        boolean large = seq % 4 == 1;
        (large ? big : small).add(seq);
        acks.add(pub.publish(topic, Inbox.payload(seq, large ? 4096 : 200), 1, false));
        Thread.sleep(20);
      }
      for (long seq = 0; seq < 16; seq++) {
        CompletableFuture<Void> f = acks.get((int) seq);
        if (big.contains(seq)) {
          try {
            f.get(T.toSeconds(), TimeUnit.SECONDS);
            throw new AssertionError("frame " + seq + " (4096 bytes) was acknowledged by a broker limited to 2048");
          } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(PublishRejectedException.class);
            assertThat(((PublishRejectedException) e.getCause()).reason()).isEqualTo("connection_dropped");
            assertThat(e.getCause().getMessage()).contains("message_size_limit", "max_packet_size");
          }
        } else {
          f.get(T.toSeconds(), TimeUnit.SECONDS);
        }
      }
      await().atMost(T).until(() -> inbox.sequences().containsAll(small));
      assertThat(inbox.sequences()).as("per sequence: every small message, no large one").isEqualTo(small);
      assertThat(counter(metrics, "splitrt_mqtt_publish_refused_total")).isEqualTo(big.size());
      assertThat(counter(metrics, "splitrt_mqtt_publish_refused_connection_dropped_total")).isEqualTo(big.size());
      MqttLink.Health h = pub.health();
      assertThat(h.senderAlive()).isTrue();
      assertThat(h.refused()).isEqualTo(big.size());
      assertThat(h.sinceRefusalMillis()).isGreaterThanOrEqualTo(0);
      assertThat(pub.stats().outboxMessages()).isZero();
    }
  }

  /** The Paho NullPointerException that used to kill the sender thread, injected once. */
  @Test
  void anUnexpectedThrowableInTheSenderIsCountedAndRecoveredFrom() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto m = Mosquitto.start(dir);
         MqttLink sub = MqttLink.start(Inbox.fast(m.url(), "sub"), null);
         MqttLink pub = MqttLink.start(Inbox.fast(m.url(), "pub"), null, metrics)) {
      assertThat(sub.awaitConnected(T)).isTrue();
      assertThat(pub.awaitConnected(T)).isTrue();
      Inbox inbox = new Inbox();
      String topic = Topics.features("f", "d", "m");
      sub.subscribe(topic, 1, inbox);
      AtomicBoolean thrown = new AtomicBoolean();
      pub.beforePublishForTests = () -> {
        if (thrown.compareAndSet(false, true)) {
          throw new NullPointerException("injected: as from inside Paho's publish");
        }
      };
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      for (long seq = 0; seq < 10; seq++) {
        acks.add(pub.publish(topic, Inbox.payload(seq, 500), 1, false));
      }
      CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(T.toSeconds(), TimeUnit.SECONDS);
      await().atMost(T).until(() -> inbox.sequences().size() == 10);
      assertThat(inbox.sequences()).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
      assertThat(thrown).isTrue();
      assertThat(counter(metrics, "splitrt_mqtt_thread_failures_total")).isEqualTo(1);
      assertThat(pub.stats().reconnects()).as("the connection was recycled").isGreaterThanOrEqualTo(1);
      assertThat(pub.health().senderAlive()).isTrue();
      assertThat(pub.health().healthy()).isTrue();
    }
  }

  /**
   * A frozen broker (SIGSTOP: sockets open, nothing answered) with keep-alive far away: the watchdog
   * sees messages waiting without progress, health says so, the connection is recycled, and after the
   * broker resumes the message arrives.
   */
  @Test
  void theWatchdogRecyclesAConnectionThatMakesNoProgress() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto m = Mosquitto.start(dir);
         MqttLink sub = MqttLink.start(Inbox.fast(m.url(), "sub"), null)) {
      MqttSettings f = Inbox.fast(m.url(), "pub");
      MqttSettings slowKeepAlive = new MqttSettings(m.url(), "pub", null, null, null, 600, f.backoffMin(), f.backoffMax(),
          f.maxInflight(), f.outboxBytes(), 0).withStallTimeout(Duration.ofSeconds(2));
      try (MqttLink pub = MqttLink.start(slowKeepAlive, null, metrics)) {
        assertThat(sub.awaitConnected(T)).isTrue();
        assertThat(pub.awaitConnected(T)).isTrue();
        Inbox inbox = new Inbox();
        String topic = Topics.features("f", "d", "m");
        sub.subscribe(topic, 1, inbox);
        pub.publish(topic, Inbox.payload(0, 100), 1, false).get(10, TimeUnit.SECONDS);
        assertThat(pub.health().healthy()).isTrue();
        m.pause();
        CompletableFuture<Void> stuck;
        try {
          stuck = pub.publish(topic, Inbox.payload(1, 100), 1, false);
          await().atMost(T).until(() -> counter(metrics, "splitrt_mqtt_watchdog_recycles_total") >= 1);
          assertThat(pub.health().healthy()).isFalse();
          assertThat(stuck).isNotDone();
        } finally {
          m.resume();
        }
        stuck.get(T.toSeconds(), TimeUnit.SECONDS);
        await().atMost(T).until(() -> inbox.sequences().contains(1L));
        assertThat(inbox.sequences()).containsExactly(0L, 1L);
        await().atMost(T).until(() -> pub.health().healthy());
      }
    }
  }
}

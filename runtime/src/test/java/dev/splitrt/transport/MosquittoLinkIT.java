package dev.splitrt.transport;

import static dev.splitrt.transport.Inbox.fast;
import static dev.splitrt.transport.Inbox.payload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.splitrt.testsupport.Mosquitto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MosquittoLinkIT {
  private static final Duration T = Duration.ofSeconds(10);
  @TempDir Path dir;

  @BeforeAll
  static void mosquitto() {
    Mosquitto.assumeAvailable();
  }

  @Test
  void roundTrips256KbPayloadsInOrder() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir); MqttLink sub = MqttLink.start(fast(m.url(), "sub"), null);
         MqttLink pub = MqttLink.start(fast(m.url(), "pub"), null)) {
      assertThat(sub.awaitConnected(T)).isTrue();
      Inbox inbox = new Inbox();
      String topic = Topics.features("f", "d", "m");
      sub.subscribe(topic, 1, inbox);
      List<byte[]> sent = new ArrayList<>();
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        byte[] p = payload(i, 256 * 1024);
        sent.add(p);
        acks.add(pub.publish(topic, p, 1, false));
      }
      CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
      inbox.awaitSize(8, T);
      List<Inbox.Msg> got = inbox.messages();
      assertThat(got).hasSize(8);
      for (int i = 0; i < 8; i++) {
        assertThat(got.get(i).topic()).isEqualTo(topic);
        assertThat(got.get(i).payload()).isEqualTo(sent.get(i));
      }
      assertThat(pub.stats()).isEqualTo(new MqttLink.Stats(8, 8, 0, 0, 0));
    }
  }

  @Test
  void sharedSubscriptionSplitsTheLoadBetweenTwoTails() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir)) {
      int[] got = SharedLoad.run(m.url(), "m-", 60);
      assertThat(got[0]).isPositive();
      assertThat(got[1]).isPositive();
    }
  }

  @Test
  void firstConnectToADeadBrokerKeepsRetryingUntilItStarts() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir)) {
      m.stop();
      try (MqttLink link = MqttLink.start(fast(m.url(), "early"), null)) {
        CompletableFuture<Void> queued = link.publish("splitrt/v1/f/d/status", "{}".getBytes(), 1, true);
        assertThat(link.awaitConnected(Duration.ofMillis(400))).isFalse();
        assertThat(queued).isNotDone();
        m.restart();
        assertThat(link.awaitConnected(T)).isTrue();
        queued.get(5, TimeUnit.SECONDS);
        assertThat(link.stats().reconnects()).isZero();
      }
    }
  }

  @Test
  void fullOutboxBlocksThePublisherUntilTheBrokerIsBack() throws Exception {
    String topic = Topics.features("f", "d", "m");
    long perMessage = 1000 + topic.length();
    try (Mosquitto m = Mosquitto.start(dir)) {
      m.stop();
      MqttSettings s = new MqttSettings(m.url(), "bp", null, null, null, 5, Duration.ofMillis(50), Duration.ofMillis(200),
          8, 4 * perMessage);
      try (MqttLink link = MqttLink.start(s, null)) {
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          acks.add(link.publish(topic, payload(i, 1000), 1, false));
        }
        assertThat(link.stats().outboxBytes()).isEqualTo(4 * perMessage);
        AtomicReference<CompletableFuture<Void>> fifth = new AtomicReference<>();
        Thread blocked = new Thread(() -> {
          try {
            fifth.set(link.publish(topic, payload(4, 1000), 1, false));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        blocked.start();
        blocked.join(300);
        assertThat(blocked.isAlive()).as("publish blocks while the outbox is full").isTrue();
        assertThat(fifth.get()).isNull();
        m.restart();
        blocked.join(T.toMillis());
        assertThat(blocked.isAlive()).isFalse();
        acks.add(fifth.get());
        CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        assertThat(link.stats()).isEqualTo(new MqttLink.Stats(5, 5, 0, 0, 0));
      }
    }
  }

  @Test
  void brokerRefusalFailsTheFutureWithCodeAndFixAndTheLinkCarriesOn() throws Exception {
    Path acl = Files.writeString(dir.resolve("acl"), "topic readwrite splitrt/v1/f/d/#\n");
    try (Mosquitto m = Mosquitto.start(dir.resolve("broker"), "acl_file " + acl, "max_packet_size 20000");
         MqttLink link = MqttLink.start(fast(m.url(), "d"), null)) {
      assertThat(link.awaitConnected(T)).isTrue();
      CompletableFuture<Void> denied = link.publish(Topics.features("f", "other", "m"), payload(0, 100), 1, false);
      CompletableFuture<Void> huge = link.publish(Topics.features("f", "d", "m"), payload(1, 30_000), 1, false);
      CompletableFuture<Void> fine = link.publish(Topics.features("f", "d", "m"), payload(2, 100), 1, false);
      fine.get(5, TimeUnit.SECONDS);
      assertThatThrownBy(() -> denied.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .cause().isInstanceOf(PublishRejectedException.class)
          .hasMessageContaining("splitrt/v1/f/other/features/m").hasMessageContaining("0x87")
          .hasMessageContaining("ACL");
      assertThat(((PublishRejectedException) denied.handle((v, e) -> e).get()).reasonCode()).isEqualTo(0x87);
      assertThatThrownBy(() -> huge.get(5, TimeUnit.SECONDS)).cause().isInstanceOf(PublishRejectedException.class)
          .hasMessageContaining("0x95").hasMessageContaining("20000").hasMessageContaining("max_packet_size");
      assertThat(link.drain(T)).isTrue();
      MqttLink.Stats st = link.stats();
      assertThat(st.acked()).isEqualTo(1);
      assertThat(st.reconnects()).as("a refusal is no reason to reconnect").isZero();
    }
  }

  @Test
  void aThrowingHandlerDoesNotStopDelivery() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir); MqttLink link = MqttLink.start(fast(m.url(), "h"), null)) {
      assertThat(link.awaitConnected(T)).isTrue();
      AtomicInteger calls = new AtomicInteger();
      Inbox inbox = new Inbox();
      link.subscribe("splitrt/v1/f/d/results/+", 1, (topic, payload) -> {
        if (calls.incrementAndGet() == 1) {
          throw new IllegalStateException("handler bug");
        }
        inbox.onMessage(topic, payload);
      });
      for (int i = 0; i < 3; i++) {
        link.publish(Topics.results("f", "d", "m"), payload(i, 16), 1, false);
      }
      inbox.awaitSize(2, T);
      assertThat(inbox.sequences()).containsExactly(1L, 2L);
      assertThat(link.connected()).isTrue();
      assertThat(link.stats().reconnects()).isZero();
    }
  }

  @Test
  void closeIsIdempotentFailsWhatIsLeftAndReleasesItsThreads() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir)) {
      m.stop();
      MqttLink link = MqttLink.start(fast(m.url(), "closer"), null);
      CompletableFuture<Void> stuck = link.publish("splitrt/v1/f/d/status", new byte[10], 1, true);
      link.close();
      link.close();
      assertThatThrownBy(() -> stuck.get(2, TimeUnit.SECONDS)).cause().isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed before the broker acknowledged").hasMessageContaining("drain()");
      assertThatThrownBy(() -> link.publish("a/b", new byte[1], 1, false)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed");
      assertThat(link.awaitConnected(Duration.ofMillis(10))).isFalse();
      await().atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces().keySet().stream()
          .noneMatch(t -> t.getName().startsWith("splitrt-mqtt-") && t.getName().contains("closer")));
    }
  }

  @Test
  void qos0WhileOfflineFailsAtOnceInsteadOfPretending() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir)) {
      m.stop();
      try (MqttLink link = MqttLink.start(fast(m.url(), "q0"), null)) {
        CompletableFuture<Void> f = link.publish("splitrt/v1/f/d/results/m", new byte[4], 0, false);
        assertThatThrownBy(() -> f.get(1, TimeUnit.SECONDS)).cause().hasMessageContaining("offline")
            .hasMessageContaining("QoS 1");
        assertThat(link.stats().published()).isZero();
        assertThatThrownBy(() -> link.publish("a/b", new byte[1], 2, false)).hasMessageContaining("qos 2");
      }
    }
  }
}

package dev.splitrt.transport;

import static dev.splitrt.transport.Inbox.fast;
import static dev.splitrt.transport.Inbox.payload;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same link against HiveMQ CE embedded (Receive Maximum 10: more in flight would make Paho throw). */
class HiveMqIT {
  private static final Duration T = Duration.ofSeconds(10);
  @TempDir static Path dir;
  static EmbeddedHiveMq hive;

  @BeforeAll
  static void start() throws Exception {
    hive = EmbeddedHiveMq.start(0, dir.resolve("hivemq"));
  }

  @AfterAll
  static void stop() {
    if (hive != null) {
      hive.close();
      hive.close();
    }
  }

  @Test
  void writesItsConfigAndFolders() {
    assertThat(dir.resolve("hivemq/conf/config.xml")).content().contains("<port>" + hive.url().replaceAll(".*:", "") + "</port>");
    assertThat(Files.isDirectory(dir.resolve("hivemq/data"))).isTrue();
    assertThat(Files.isDirectory(dir.resolve("hivemq/extensions"))).isTrue();
  }

  @Test
  void roundTrips256KbPayloads() throws Exception {
    try (MqttLink sub = MqttLink.start(fast(hive.url(), "h-sub"), null);
         MqttLink pub = MqttLink.start(fast(hive.url(), "h-pub"), null)) {
      assertThat(sub.awaitConnected(T)).isTrue();
      Inbox inbox = new Inbox();
      String topic = Topics.features("f", "d", "m");
      sub.subscribe(topic, 1, inbox);
      List<byte[]> sent = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        byte[] p = payload(i, 256 * 1024);
        sent.add(p);
        pub.publish(topic, p, 1, false);
      }
      assertThat(pub.drain(T)).isTrue();
      inbox.awaitSize(6, T);
      for (int i = 0; i < 6; i++) {
        assertThat(inbox.messages().get(i).payload()).isEqualTo(sent.get(i));
      }
    }
  }

  @Test
  void sharedSubscriptionSplitsTheLoadBetweenTwoTails() throws Exception {
    int[] got = SharedLoad.run(hive.url(), "h-", 60);
    assertThat(got[0]).isPositive();
    assertThat(got[1]).isPositive();
  }

  @Test
  void moreThanReceiveMaximumInFlightIsPacedNotRefused() throws Exception {
    // HiveMQ's Receive Maximum is 10; plain Paho throws "Too many publishes in progress" past it
    try (MqttLink pub = MqttLink.start(fast(hive.url(), "h-burst"), null)) {
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        acks.add(pub.publish(Topics.features("f", "d", "m"), payload(i, 256), 1, false));
      }
      CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
      assertThat(pub.stats()).isEqualTo(new MqttLink.Stats(300, 300, 0, 0, 0));
    }
  }
}

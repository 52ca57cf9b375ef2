package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.testsupport.TcpCutter;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The retained status and the will, as another client sees them. */
class LastWillIT {
  private static final Duration T = Duration.ofSeconds(10);
  @TempDir Path dir;

  @BeforeAll
  static void mosquitto() {
    Mosquitto.assumeAvailable();
  }

  @Test
  void killedProcessLeavesTheRetainedOfflineWill() throws Exception {
    String status = Topics.status("f", "jetson-7");
    try (Mosquitto m = Mosquitto.start(dir); MqttLink watcher = MqttLink.start(Inbox.fast(m.url(), "watcher"), null)) {
      assertThat(watcher.awaitConnected(T)).isTrue();
      Inbox seen = new Inbox();
      watcher.subscribe(status, 1, seen);
      Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"), "-Xshare:auto", "-XX:TieredStopAtLevel=1",
          WillChild.class.getName(), m.url(), "jetson-7", status)
          .redirectErrorStream(true).start();
      try {
        CountDownLatch ready = new CountDownLatch(1);
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> {
          try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
              synchronized (out) {
                out.append(line).append('\n');
              }
              if (line.equals("READY")) {
                ready.countDown();
              }
            }
          } catch (java.io.IOException e) {
            // child gone
          }
        });
        reader.setDaemon(true);
        reader.start();
        boolean up = ready.await(30, TimeUnit.SECONDS);
        synchronized (out) {
          assertThat(up).as("child output:\n%s", out).isTrue();
        }
        seen.awaitSize(1, T);
        assertThat(new String(seen.messages().get(0).payload(), StandardCharsets.UTF_8)).contains("online");

        child.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no DISCONNECT reaches the broker
        seen.awaitSize(2, T);
        assertThat(new String(seen.messages().get(1).payload(), StandardCharsets.UTF_8)).isEqualTo("{\"state\":\"offline\"}");
      } finally {
        child.destroyForcibly();
      }
      assertThat(retainedStatus(m.url(), status)).isEqualTo("{\"state\":\"offline\"}");
    }
  }

  @Test
  void gracefulCloseSendsDisconnectSoTheWillIsDiscarded() throws Exception {
    String status = Topics.status("f", "jetson-8");
    try (Mosquitto m = Mosquitto.start(dir)) {
      MqttLink.Will will = new MqttLink.Will(status, "{\"state\":\"offline\"}".getBytes(StandardCharsets.UTF_8), true);
      MqttLink link = MqttLink.start(Inbox.fast(m.url(), "jetson-8"), will);
      assertThat(link.awaitConnected(T)).isTrue();
      link.publish(status, "{\"state\":\"online\"}".getBytes(StandardCharsets.UTF_8), 1, true).get(5, TimeUnit.SECONDS);
      link.close();
      Thread.sleep(200);
      assertThat(retainedStatus(m.url(), status)).isEqualTo("{\"state\":\"online\"}");
      assertThat(m.log()).contains("jetson-8").doesNotContain("jetson-8 closed its connection").contains("disconnected");
    }
  }

  /**
   * The link drops without DISCONNECT (the network is cut, the broker stays up), so the broker
   * publishes the will; the link reconnects and its birth message puts "online" back, fresh each time.
   */
  @Test
  void afterTheWillFiredTheReconnectRepublishesOnline() throws Exception {
    String status = Topics.status("f", "jetson-9");
    try (Mosquitto m = Mosquitto.start(dir); TcpCutter net = new TcpCutter(m.port());
        MqttLink watcher = MqttLink.start(Inbox.fast(m.url(), "watcher-9"), null)) {
      assertThat(watcher.awaitConnected(T)).isTrue();
      Inbox seen = new Inbox();
      watcher.subscribe(status, 1, seen);
      MqttLink.Will will = new MqttLink.Will(status, "{\"state\":\"offline\"}".getBytes(StandardCharsets.UTF_8), true);
      java.util.concurrent.atomic.AtomicInteger births = new java.util.concurrent.atomic.AtomicInteger();
      try (MqttLink link = MqttLink.start(Inbox.fast(net.url(), "jetson-9"), will)) {
        link.birth(status, () -> ("{\"state\":\"online\",\"n\":" + births.incrementAndGet() + "}")
            .getBytes(StandardCharsets.UTF_8));
        seen.awaitSize(1, T);
        assertThat(payload(seen, 0)).isEqualTo("{\"state\":\"online\",\"n\":1}");

        for (int outage = 1; outage <= 2; outage++) {
          assertThat(net.cut()).as("connections cut").isPositive();
          seen.awaitSize(1 + 2 * outage, T);
          assertThat(payload(seen, 2 * outage - 1)).as("the will, outage %d", outage).isEqualTo("{\"state\":\"offline\"}");
          assertThat(payload(seen, 2 * outage)).as("the birth after outage %d", outage)
              .isEqualTo("{\"state\":\"online\",\"n\":" + (outage + 1) + "}");
        }
        assertThat(retainedStatus(m.url(), status)).isEqualTo("{\"state\":\"online\",\"n\":3}");

        link.birth(null, null); // as a graceful shutdown does before its own offline status
        link.publish(status, "{\"state\":\"offline\",\"bye\":true}".getBytes(StandardCharsets.UTF_8), 1, true)
            .get(5, TimeUnit.SECONDS);
        net.cut();
        assertThat(link.awaitConnected(T)).isTrue();
        Thread.sleep(500); // a birth, if one were still set, would be sent right after this connect
        assertThat(retainedStatus(m.url(), status)).isEqualTo("{\"state\":\"offline\"}");
        assertThat(births.get()).as("birth payloads made").isEqualTo(3);
      }
    }
  }

  private static String payload(Inbox inbox, int i) {
    return new String(inbox.messages().get(i).payload(), StandardCharsets.UTF_8);
  }

  private static String retainedStatus(String url, String topic) throws Exception {
    try (MqttLink late = MqttLink.start(Inbox.fast(url, "late-" + System.nanoTime()), null)) {
      assertThat(late.awaitConnected(T)).isTrue();
      Inbox inbox = new Inbox();
      late.subscribe(topic, 1, inbox);
      inbox.awaitSize(1, T);
      return new String(inbox.messages().get(0).payload(), StandardCharsets.UTF_8);
    }
  }
}

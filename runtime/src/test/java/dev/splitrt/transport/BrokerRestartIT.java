package dev.splitrt.transport;

import static dev.splitrt.transport.Inbox.payload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.splitrt.testsupport.Mosquitto;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.paho.mqttv5.client.IMqttToken;
import org.eclipse.paho.mqttv5.client.MqttAsyncClient;
import org.eclipse.paho.mqttv5.client.MqttCallback;
import org.eclipse.paho.mqttv5.client.MqttConnectionOptions;
import org.eclipse.paho.mqttv5.client.MqttDisconnectResponse;
import org.eclipse.paho.mqttv5.client.persist.MemoryPersistence;
import org.eclipse.paho.mqttv5.common.MqttException;
import org.eclipse.paho.mqttv5.common.MqttMessage;
import org.eclipse.paho.mqttv5.common.packet.MqttProperties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker goes away in the middle of a stream and comes back: no accepted message may be lost.
 *
 * <p>End-to-end no-loss needs the broker to keep what it acknowledged, so this broker persists to
 * disk and the observing subscriber (plain Paho) holds a persistent session (Clean Start off,
 * session expiry 10 min). What is under test is the publishing {@link MqttLink}: outbox, resend
 * after reconnect, in-flight window.
 */
class BrokerRestartIT {
  @TempDir Path dir;

  @BeforeAll
  static void mosquitto() {
    Mosquitto.assumeAvailable();
  }

  @Test
  void brokerRestartMidStreamLosesNoneOf500Qos1Messages() throws Exception {
    int n = 500;
    String topic = Topics.features("f", "cam-1", "bottlefit");
    try (Mosquitto m = Mosquitto.start(dir, "persistence true", "persistence_location " + dir + "/", "autosave_interval 1800")) {
      Set<Long> seen = ConcurrentHashMap.newKeySet();
      AtomicInteger deliveries = new AtomicInteger();
      MqttAsyncClient observer = persistentSubscriber(m.url(), topic, seen, deliveries);
      try (MqttLink link = MqttLink.start(Inbox.fast(m.url(), "cam-1"), null)) {
        assertThat(link.awaitConnected(Duration.ofSeconds(10))).isTrue();
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        Thread producer = new Thread(() -> {
          try {
            for (int i = 0; i < n; i++) {
              acks.add(link.publish(topic, payload(i, 2048), 1, false));
              if (i % 5 == 0) {
                Thread.sleep(2); // a camera-like stream, so the outage lands in the middle of it
              }
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        producer.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> link.stats().acked() >= 100);
        m.stop();
        MqttLink.Stats atStop = link.stats();
        Thread.sleep(300);
        assertThat(link.connected()).isFalse();
        m.restart();
        producer.join(20_000);
        assertThat(link.drain(Duration.ofSeconds(20))).isTrue();
        for (CompletableFuture<Void> f : acks) {
          // Futures complete on the link's completion thread, just after the outbox empties.
          assertThat(f).succeedsWithin(Duration.ofSeconds(5));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == n);
        MqttLink.Stats st = link.stats();
        System.out.printf("broker stopped at %d acked/%d accepted; delivered %d times for %d messages (%d duplicates); %s%n",
            atStop.acked(), atStop.published(), deliveries.get(), n, deliveries.get() - n, st);
        assertThat(st.reconnects()).isGreaterThanOrEqualTo(1);
        assertThat(st.published()).isEqualTo(n);
        assertThat(st.acked()).isEqualTo(n);
        assertThat(seen).hasSize(n);
      } finally {
        // A failure above must not be masked by the observer's own disconnect after the restart.
        if (observer.isConnected()) observer.disconnect().waitForCompletion(2000);
        observer.close();
      }
    }
  }

  private static MqttAsyncClient persistentSubscriber(String url, String topic, Set<Long> seen, AtomicInteger deliveries)
      throws MqttException {
    MqttAsyncClient c = new MqttAsyncClient(url, "observer", new MemoryPersistence());
    c.setCallback(new MqttCallback() {
      @Override public void disconnected(MqttDisconnectResponse r) { }
      @Override public void mqttErrorOccurred(MqttException e) { }
      @Override public void messageArrived(String t, MqttMessage msg) {
        deliveries.incrementAndGet();
        seen.add(ByteBuffer.wrap(msg.getPayload()).getLong());
      }
      @Override public void deliveryComplete(IMqttToken token) { }
      @Override public void connectComplete(boolean reconnect, String serverURI) { }
      @Override public void authPacketArrived(int reasonCode, MqttProperties properties) { }
    });
    MqttConnectionOptions o = new MqttConnectionOptions();
    o.setCleanStart(false);
    o.setSessionExpiryInterval(600L);
    o.setAutomaticReconnect(true);
    o.setAutomaticReconnectDelay(1, 1);
    c.connect(o).waitForCompletion(10_000);
    c.subscribe(topic, 1).waitForCompletion(10_000);
    return c;
  }
}

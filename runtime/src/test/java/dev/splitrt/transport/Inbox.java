package dev.splitrt.transport;

import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** Test handler: keeps what arrives, lets a test wait for it. */
final class Inbox implements MqttLink.MessageHandler {
  record Msg(String topic, byte[] payload) {
    long seq() {
      return ByteBuffer.wrap(payload).getLong();
    }
  }

  private final List<Msg> messages = new ArrayList<>();

  @Override
  public synchronized void onMessage(String topic, byte[] payload) {
    messages.add(new Msg(topic, payload));
  }

  synchronized List<Msg> messages() {
    return new ArrayList<>(messages);
  }

  synchronized int size() {
    return messages.size();
  }

  synchronized Set<Long> sequences() {
    Set<Long> s = new TreeSet<>();
    for (Msg m : messages) {
      s.add(m.seq());
    }
    return s;
  }

  void awaitSize(int n, Duration timeout) {
    await().atMost(timeout).pollInterval(Duration.ofMillis(20)).until(() -> size() >= n);
  }

  /** Fast reconnects for tests: backoff 50..400 ms, keep-alive 5 s. */
  static MqttSettings fast(String url, String clientId) {
    return new MqttSettings(url, clientId, null, null, null, 5, Duration.ofMillis(50), Duration.ofMillis(400),
        32, 32L << 20);
  }

  /** A payload whose first 8 bytes carry {@code seq}. */
  static byte[] payload(long seq, int size) {
    ByteBuffer b = ByteBuffer.allocate(Math.max(size, 8));
    b.putLong(seq);
    for (int i = 8; i < b.capacity(); i++) {
      b.put((byte) (seq * 31 + i));
    }
    return b.array();
  }
}

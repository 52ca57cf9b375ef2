package dev.splitrt.transport;

import static dev.splitrt.transport.Inbox.fast;
import static dev.splitrt.transport.Inbox.payload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Two tail runners on one shared subscription, the same scenario on every broker. Brokers choose the
 * member as they like (Mosquitto: round robin; HiveMQ: a random idle member, which then takes up to
 * 50 queued messages in one batch, so a burst usually lands on one tail). To observe the split
 * without depending on one policy, the device publishes the next message only after a tail received
 * the previous one: both tails are idle each time, and the chance that one gets none of n is 2^(1-n)
 * under HiveMQ's random choice.
 */
final class SharedLoad {
  private SharedLoad() {}

  /** Returns {tail a count, tail b count}. */
  static int[] run(String url, String prefix, int n) throws Exception {
    Duration t = Duration.ofSeconds(10);
    try (MqttLink a = MqttLink.start(fast(url, prefix + "tail-a"), null);
         MqttLink b = MqttLink.start(fast(url, prefix + "tail-b"), null);
         MqttLink pub = MqttLink.start(fast(url, prefix + "dev"), null)) {
      assertThat(a.awaitConnected(t) && b.awaitConnected(t) && pub.awaitConnected(t)).isTrue();
      Inbox ia = new Inbox();
      Inbox ib = new Inbox();
      a.subscribe(Topics.sharedFeatures("tails", "f"), 1, ia);
      b.subscribe(Topics.sharedFeatures("tails", "f"), 1, ib);
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        acks.add(pub.publish(Topics.features("f", "d" + (i % 4), "m"), payload(i, 128), 1, false));
        int sent = i + 1;
        await().atMost(t).pollInterval(Duration.ofMillis(2)).until(() -> ia.size() + ib.size() == sent);
      }
      CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
      await().atMost(t).until(() -> ia.size() + ib.size() >= n);
      Thread.sleep(100);
      List<Long> all = new ArrayList<>(ia.sequences());
      all.addAll(ib.sequences());
      assertThat(all).as("every message reached exactly one tail").hasSize(n).doesNotHaveDuplicates();
      assertThat(ia.size() + ib.size()).isEqualTo(n);
      assertThat(pub.stats().reconnects()).isZero();
      System.out.printf("%s shared subscription: tail a got %d, tail b got %d of %d%n", url, ia.size(), ib.size(), n);
      return new int[] {ia.size(), ib.size()};
    }
  }
}

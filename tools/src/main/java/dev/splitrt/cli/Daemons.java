package dev.splitrt.cli;

import dev.splitrt.config.BrokerConfig;
import dev.splitrt.transport.MqttSettings;
import java.time.Duration;

/** What the edge, tail and demo commands share: turning a broker config into link settings. */
final class Daemons {
  private Daemons() {}

  /** {@code defaultBackoffMinMs}: devices back off longer than tail runners, so tails are back first after a broker restart. */
  static MqttSettings mqtt(BrokerConfig b, String defaultClientId, int defaultBackoffMinMs) {
    MqttSettings.Tls tls = b.tls() == null ? null : new MqttSettings.Tls(b.tls().caFile(), b.tls().certFile(), b.tls().keyFile());
    return new MqttSettings(b.url(), b.clientId() != null ? b.clientId() : defaultClientId, b.username(), b.password(), tls,
        b.keepAlive(), Duration.ofMillis(b.backoffMin(defaultBackoffMinMs)), Duration.ofMillis(b.backoffMax()), b.inflight(), b.outbox(),
        b.sessionExpiry(0));
  }

  /** Blocks until SIGTERM/SIGINT (the JVM's shutdown hook counts the latch down after {@code onStop} ran). */
  static void runUntilSignalled(Runnable onStop) throws InterruptedException {
    java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stopped.countDown();
      try {
        done.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "splitrt-shutdown"));
    stopped.await();
    try {
      onStop.run();
    } finally {
      done.countDown();
    }
  }
}

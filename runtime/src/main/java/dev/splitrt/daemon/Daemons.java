package dev.splitrt.daemon;

import dev.splitrt.config.BrokerConfig;
import dev.splitrt.transport.MqttSettings;
import java.time.Duration;

/** What the edge, tail and demo commands share: turning a broker config into link settings. */
public final class Daemons {
  private Daemons() {}

  /**
   * Role defaults where the config is silent. {@code defaultBackoffMinMs}: devices back off longer
   * than tail runners, so tails are back first after a broker restart. {@code defaultSessionExpiry}:
   * subscribers keep a session, so what the broker acknowledged but had not yet delivered to them
   * survives their reconnect (and a broker restart, where the broker persists sessions).
   */
  public static MqttSettings mqtt(BrokerConfig b, String defaultClientId, int defaultBackoffMinMs, long defaultSessionExpiry) {
    MqttSettings.Tls tls = b.tls() == null ? null : new MqttSettings.Tls(b.tls().caFile(), b.tls().certFile(), b.tls().keyFile());
    return new MqttSettings(b.url(), b.clientId() != null ? b.clientId() : defaultClientId, b.username(), b.password(), tls,
        b.keepAlive(), Duration.ofMillis(b.backoffMin(defaultBackoffMinMs)), Duration.ofMillis(b.backoffMax()), b.inflight(), b.outbox(),
        b.sessionExpiry(defaultSessionExpiry), Duration.ofSeconds(b.stallTimeout()), b.maxPacket(), 0);
  }

  /**
   * SIGTERM/SIGINT handling for the daemons: the signal only starts the JVM's shutdown hook, which
   * waits until the command has drained and then ends the process with the command's exit code (a
   * clean drain after SIGTERM exits 0, as systemd expects). Call {@link #finish} exactly once.
   */
  public static final class Signals {
    private final java.util.concurrent.CountDownLatch signalled = new java.util.concurrent.CountDownLatch(1);
    private final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
    private volatile int exitCode;

    public Signals(String name) {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        signalled.countDown();
        try {
          finished.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        Runtime.getRuntime().halt(exitCode);
      }, name));
    }

    public boolean received() {
      return signalled.getCount() == 0;
    }

    /** Waits up to {@code millis} for a signal; true when one arrived. */
    public boolean await(long millis) throws InterruptedException {
      return signalled.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    public void finish(int code) {
      exitCode = code;
      finished.countDown();
    }
  }
}

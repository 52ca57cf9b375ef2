package dev.splitrt.transport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An MQTT 5 broker (HiveMQ CE, embedded) inside this JVM, for the demo and for tests: one command
 * brings up the device, the broker and the tail runner without installing anything. Anonymous, plain
 * TCP, in-memory persistence, listening on 127.0.0.1 only: for devices on other hosts run a real broker
 * with TLS and ACLs.
 *
 * <p>HiveMQ CE is an optional dependency of the runtime
 * ({@code com.hivemq:hivemq-community-edition-embedded}); without it {@link #start} throws an
 * {@link IOException} that says so. The broker's configuration ({@code conf/config.xml}), data and
 * extensions folders are created under {@code workDir}. HiveMQ's own logging bootstrap is left out so
 * the host's logging configuration stays as it is; when the host logs through Logback and has set no
 * level for them, the chatty HiveMQ/Netty loggers are set to WARN.
 */
public final class EmbeddedHiveMq implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedHiveMq.class);
  private static final String[] CHATTY = {"com.hivemq", "io.netty", "jetbrains.exodus", "org.rocksdb",
      "org.jboss.logging", "org.hibernate.validator", "oshi", "com.codahale", "migrations"};

  private final AutoCloseable broker;
  private final int port;
  private boolean closed;

  private EmbeddedHiveMq(AutoCloseable broker, int port) {
    this.broker = broker;
    this.port = port;
  }

  /**
   * Starts the broker and returns once it accepts connections.
   *
   * @param port TCP port on 127.0.0.1, 0 = a free port
   * @param workDir folder for conf/, data/, extensions/ (created; reused if present)
   */
  public static EmbeddedHiveMq start(int port, Path workDir) throws IOException {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("HiveMQ port " + port + " must be 0..65535 (0 = a free port)");
    }
    int p = port == 0 ? freePort() : port;
    Path conf = Files.createDirectories(workDir.resolve("conf"));
    Path data = Files.createDirectories(workDir.resolve("data"));
    Path extensions = Files.createDirectories(workDir.resolve("extensions"));
    Files.writeString(conf.resolve("config.xml"), config(p), StandardCharsets.UTF_8);
    quietLoggers();
    AutoCloseable broker;
    try {
      broker = Hive.start(conf, data, extensions);
    } catch (NoClassDefFoundError e) {
      throw new IOException("HiveMQ CE embedded is not on the classpath (" + e.getMessage() + "); add "
          + "com.hivemq:hivemq-community-edition-embedded:2025.5 to run an embedded broker, or use an external one", e);
    }
    log.info("embedded HiveMQ CE listening on tcp://127.0.0.1:{} (work dir {})", p, workDir);
    return new EmbeddedHiveMq(broker, p);
  }

  public String url() {
    return "tcp://127.0.0.1:" + port;
  }

  /** Stops the broker; connected clients lose their connection. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      broker.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("embedded HiveMQ on port {} did not stop cleanly: {}", port, e.toString());
    }
  }

  static String config(int port) {
    return """
        <?xml version="1.0"?>
        <hivemq>
          <listeners>
            <tcp-listener>
              <port>%d</port>
              <bind-address>127.0.0.1</bind-address>
            </tcp-listener>
          </listeners>
          <persistence>
            <mode>in-memory</mode>
          </persistence>
          <anonymous-usage-statistics>
            <enabled>false</enabled>
          </anonymous-usage-statistics>
        </hivemq>
        """.formatted(port);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  /** Sets the chatty loggers to WARN when the binding is Logback and the host left them unset. */
  private static void quietLoggers() {
    for (String name : CHATTY) {
      Object logger = LoggerFactory.getLogger(name);
      Class<?> c = logger.getClass();
      if (!c.getName().equals("ch.qos.logback.classic.Logger")) {
        return;
      }
      try {
        if (c.getMethod("getLevel").invoke(logger) == null) {
          Class<?> level = Class.forName("ch.qos.logback.classic.Level", true, c.getClassLoader());
          c.getMethod("setLevel", level).invoke(logger, level.getField("WARN").get(null));
        }
      } catch (ReflectiveOperationException | LinkageError e) {
        return;
      }
    }
  }

  /** The only place that touches HiveMQ types, so this class loads without HiveMQ on the classpath. */
  private static final class Hive {
    static AutoCloseable start(Path conf, Path data, Path extensions) throws IOException {
      com.hivemq.embedded.EmbeddedHiveMQ hive = com.hivemq.embedded.EmbeddedHiveMQ.builder()
          .withConfigurationFolder(conf)
          .withDataFolder(data)
          .withExtensionsFolder(extensions)
          .withoutLoggingBootstrap()
          .build();
      try {
        hive.start().get(60, TimeUnit.SECONDS);
        return hive;
      } catch (ExecutionException | TimeoutException e) {
        closeQuietly(hive);
        Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
        throw new IOException("embedded HiveMQ did not start with " + conf.resolve("config.xml") + ": " + cause
            + " (is the port in use?)", cause);
      } catch (InterruptedException e) {
        closeQuietly(hive);
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting embedded HiveMQ", e);
      }
    }

    private static void closeQuietly(AutoCloseable c) {
      try {
        c.close();
      } catch (Exception ignored) {
        // already failing
      }
    }
  }
}

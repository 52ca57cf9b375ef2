package dev.splitrt.testsupport;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Mosquitto broker (Debian's {@code /usr/sbin/mosquitto}) for integration tests: its own
 * config in a folder, a free 127.0.0.1 port that survives {@link #stop()}/{@link #restart()}, and a
 * log file to read when a test fails. Plain by default; {@link #startTls} gives a TLS listener.
 */
public final class Mosquitto implements AutoCloseable {
  public static final Path BINARY = Path.of("/usr/sbin/mosquitto");

  private final Path dir;
  private final Path config;
  private final Path logFile;
  private final int port;
  private final boolean tls;
  private Process process;

  private Mosquitto(Path dir, int port, boolean tls, List<String> lines) throws IOException {
    this.dir = dir;
    this.port = port;
    this.tls = tls;
    this.config = dir.resolve("mosquitto.conf");
    this.logFile = dir.resolve("mosquitto.log");
    List<String> all = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) {
      all.add("user root");
    }
    all.add("listener " + port + " 127.0.0.1");
    all.add("allow_anonymous true");
    all.add("persistence false");
    all.add("log_dest file " + logFile);
    all.add("log_type error");
    all.add("log_type warning");
    all.add("log_type notice");
    all.add("log_type information");
    all.add("connection_messages true");
    // As the generated broker config: Nagle off on the broker side too (~40 ms per small message otherwise).
    all.add("set_tcp_nodelay true");
    all.addAll(lines);
    Files.writeString(config, String.join("\n", all) + "\n", StandardCharsets.UTF_8);
  }

  /** Skips the calling test when Mosquitto is not installed; fails it on CI (env CI=true). */
  public static void assumeAvailable() {
    if (Files.isExecutable(BINARY)) {
      return;
    }
    String reason = BINARY + " is not installed: install the Debian package 'mosquitto' (apt-get install mosquitto) "
        + "to run the MQTT integration tests";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(reason + " (CI=true, so this is a failure, not a skip)");
    }
    System.out.println("SKIPPED: " + reason);
    Assumptions.assumeTrue(false, reason);
  }

  /** A plain listener on a free port; {@code extraConfig}: more mosquitto.conf lines (ACL, max_packet_size, ...). */
  public static Mosquitto start(Path dir, String... extraConfig) throws IOException {
    Mosquitto m = new Mosquitto(Files.createDirectories(dir), freePort(), false, List.of(extraConfig));
    m.launch();
    return m;
  }

  /** A TLS listener; with {@code requireCertificate} clients must show a certificate signed by {@code caFile}. */
  public static Mosquitto startTls(Path dir, Path caFile, Path certFile, Path keyFile, boolean requireCertificate,
                                   String... extraConfig) throws IOException {
    List<String> lines = new ArrayList<>(List.of(
        "cafile " + caFile, "certfile " + certFile, "keyfile " + keyFile,
        "require_certificate " + requireCertificate));
    lines.addAll(List.of(extraConfig));
    Mosquitto m = new Mosquitto(Files.createDirectories(dir), freePort(), true, lines);
    m.launch();
    return m;
  }

  /** {@code tcp://127.0.0.1:PORT}, or {@code ssl://127.0.0.1:PORT} for a TLS listener. */
  public String url() {
    return (tls ? "ssl" : "tcp") + "://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Path logFile() {
    return logFile;
  }

  public String log() {
    try {
      return Files.exists(logFile) ? Files.readString(logFile) : "";
    } catch (IOException e) {
      return "(cannot read " + logFile + ": " + e.getMessage() + ")";
    }
  }

  public synchronized boolean running() {
    return process != null && process.isAlive();
  }

  /** SIGTERM and wait for the exit (Mosquitto saves its persistence file, if configured, on the way out). */
  public synchronized void stop() {
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  /** SIGKILL (kill -9) and wait for the exit: no persistence file is written on the way out. */
  public synchronized void kill() {
    if (process == null) {
      return;
    }
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  /** Starts again on the same port with the same config; stops first if running. */
  public synchronized void restart() throws IOException {
    stop();
    launch();
  }

  @Override
  public void close() {
    stop();
  }

  private synchronized void launch() throws IOException {
    long logStart = Files.exists(logFile) ? Files.size(logFile) : 0;
    process = new ProcessBuilder(BINARY.toString(), "-c", config.toString())
        .directory(dir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("mosquitto.stdout").toFile())
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("mosquitto exited with " + process.exitValue() + " using " + config + ":\n" + log()
            + Files.readString(dir.resolve("mosquitto.stdout")));
      }
      if (Files.exists(logFile) && Files.size(logFile) > logStart) {
        String fresh = Files.readString(logFile).substring((int) logStart);
        if (fresh.contains(" running")) {
          return;
        }
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting mosquitto", e);
      }
    }
    stop();
    throw new IOException("mosquitto did not report 'running' within 10 s using " + config + ":\n" + log());
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}

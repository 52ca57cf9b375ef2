package dev.splitrt.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * A daemon's HTTP side door: {@code GET /metrics} (Prometheus text) and {@code GET /health}
 * (JSON; 200 when healthy, 503 otherwise, so a systemd watchdog or a load balancer can use it).
 * Uses the JDK's built-in server: no extra dependency on the device.
 */
public final class MetricsServer implements AutoCloseable {
  /** What {@code /health} reports. */
  public record Health(boolean healthy, String json) {}

  private final HttpServer server;

  private MetricsServer(HttpServer server) {
    this.server = server;
  }

  /** Binds {@code host:port} (port 0 picks a free one) and serves until closed. */
  public static MetricsServer start(String host, int port, MetricsRegistry registry, Supplier<Health> health) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 8);
    server.createContext("/metrics", ex -> reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", registry.prometheusText()));
    server.createContext("/health", ex -> {
      Health h = health.get();
      reply(ex, h.healthy() ? 200 : 503, "application/json", h.json());
    });
    server.setExecutor(Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "splitrt-metrics-http");
      t.setDaemon(true);
      return t;
    }));
    server.start();
    return new MetricsServer(server);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** The address bound (127.0.0.1 unless the config's metrics_bind says otherwise). */
  public java.net.InetAddress address() {
    return server.getAddress().getAddress();
  }

  private static void reply(HttpExchange ex, int status, String type, String body) throws IOException {
    try (ex) {
      if (!"GET".equals(ex.getRequestMethod())) {
        ex.sendResponseHeaders(405, -1);
        return;
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", type);
      ex.sendResponseHeaders(status, bytes.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}

package dev.splitrt.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class MetricsRegistryTest {
  @Test
  void writesCountersGaugesAndSummariesInPrometheusTextFormat() {
    MetricsRegistry r = new MetricsRegistry();
    r.counter("splitrt_test_frames_total", "Frames").add(3);
    r.gauge("splitrt_test_queue", "Queue", () -> 2);
    r.histogram("splitrt_test_head_seconds", "Head").recordMillis(4);
    String text = r.prometheusText();
    assertThat(text).contains("# HELP splitrt_test_frames_total Frames\n# TYPE splitrt_test_frames_total counter\nsplitrt_test_frames_total 3\n");
    assertThat(text).contains("# TYPE splitrt_test_queue gauge\nsplitrt_test_queue 2.00000000\n");
    assertThat(text).contains("# TYPE splitrt_test_head_seconds summary\n").contains("splitrt_test_head_seconds{quantile=\"0.99\"} 0.004")
        .contains("splitrt_test_head_seconds_count 1\n");
  }

  @Test
  void sameNameGivesTheSameCounterAndBadNamesAreRefused() {
    MetricsRegistry r = new MetricsRegistry();
    r.counter("a_total", "A").increment();
    r.counter("a_total", "A").increment();
    assertThat(r.counter("a_total", "A").sum()).isEqualTo(2);
    assertThatThrownBy(() -> r.counter("bad name", "x")).hasMessageContaining("bad name");
  }

  @Test
  void serverAnswersMetricsAndHealthWith503WhenUnhealthy() throws Exception {
    MetricsRegistry r = new MetricsRegistry();
    r.counter("splitrt_up_total", "Up").increment();
    AtomicBoolean healthy = new AtomicBoolean(true);
    try (MetricsServer s = MetricsServer.start("127.0.0.1", 0, r, () -> new MetricsServer.Health(healthy.get(), "{\"ok\":" + healthy.get() + "}"))) {
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + s.port();
      HttpResponse<String> m = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(m.statusCode()).isEqualTo(200);
      assertThat(m.body()).contains("splitrt_up_total 1");
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      healthy.set(false);
      HttpResponse<String> h = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(h.statusCode()).isEqualTo(503);
      assertThat(h.body()).isEqualTo("{\"ok\":false}");
    }
  }
}

package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker whose Maximum Packet Size (Mosquitto {@code max_packet_size 2048}) is smaller than every
 * FeatureFrame of the classifier (~6 KB at 8 bits): with chunking every frame is delivered and
 * answered (per sequence number); without, every frame is refused, counted, and health says so.
 */
class ChunkingIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "ck";
  @TempDir Path dir;
  static LoadedModel model;
  static InferenceBackend ort;

  @BeforeAll
  static void setUp() throws Exception {
    Mosquitto.assumeAvailable();
    model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    ort = Backends.byName("onnxruntime").orElseThrow();
  }

  private static long metric(MetricsRegistry m, String name) {
    for (String line : m.prometheusText().split("\n")) {
      if (line.startsWith(name + " ")) return (long) Double.parseDouble(line.substring(name.length() + 1));
    }
    return 0;
  }

  private record Run(EdgeStats stats, Set<Long> answered, MetricsRegistry metrics, boolean healthy, String health) {}

  private Run run(boolean chunking) throws Exception {
    MetricsRegistry edgeMetrics = new MetricsRegistry();
    EdgeSettings es = new EdgeSettings("cam-ck", FLEET, 0, 4, 1, new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), chunking);
    try (Mosquitto m = Mosquitto.start(dir.resolve(chunking ? "on" : "off"), "max_packet_size 2048");
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(m.url(), "tail-ck")
             .withReceiveMaxPacketBytes(TailRunner.maxFeaturePacketBytes(List.of(model))), null);
         MqttLink resultLink = MqttLink.start(MqttSettings.defaults(m.url(), "results-ck"), null);
         MqttLink edgeLink = MqttLink.start(MqttSettings.defaults(m.url(), "edge-ck"), null, edgeMetrics);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "ck", "tail-ck", 1, 1, false, 64), List.of(model), ort,
             tailLink, new MetricsRegistry())) {
      for (MqttLink l : List.of(tailLink, resultLink, edgeLink)) assertThat(l.awaitConnected(Duration.ofSeconds(20))).isTrue();
      assertThat(edgeLink.maxPacketBytes()).as("read from CONNACK").isEqualTo(2048);
      ResultCollector results = ResultCollector.attach(resultLink, FLEET);
      Thread.sleep(200);
      try (EdgeDaemon edge = EdgeDaemon.create(es, model, ort, FrameSources.open(model.resolve("eval").toString()), edgeLink, edgeMetrics)) {
        edge.start();
        assertThat(edge.awaitSourceDone(Duration.ofSeconds(120))).isTrue();
        edgeLink.drain(Duration.ofSeconds(60));
        EdgeStats s = edge.stats();
        if (chunking) results.awaitCount((int) s.accepted(), 60_000);
        assertThat(tail.awaitIdle(30_000)).isTrue();
        Set<Long> answered = new TreeSet<>();
        for (ResultCollector.Result r : results.results()) answered.add(r.sequence());
        var h = edge.health(Duration.ofSeconds(10));
        return new Run(s, answered, edgeMetrics, h.healthy(), h.json());
      }
    }
  }

  @Test
  void withChunkingEveryFrameIsDeliveredThroughA2048ByteBroker() throws Exception {
    Run r = run(true);
    long n = r.stats().accepted();
    assertThat(n).isEqualTo(300); // the eval folder's 300 images
    Set<Long> all = new TreeSet<>();
    for (long i = 0; i < n; i++) all.add(i);
    assertThat(r.answered()).as("every sequence answered").isEqualTo(all);
    assertThat(r.stats().acked()).isEqualTo(n);
    assertThat(metric(r.metrics(), "splitrt_edge_features_chunked_total")).isEqualTo(n);
    assertThat(metric(r.metrics(), "splitrt_mqtt_publish_refused_total")).isZero();
    assertThat(r.healthy()).as(r.health()).isTrue();
  }

  @Test
  void withoutChunkingEveryFrameIsRefusedCountedAndHealthDegrades() throws Exception {
    Run r = run(false);
    long n = r.stats().accepted();
    assertThat(n).isEqualTo(300);
    assertThat(r.answered()).as("nothing got through").isEmpty();
    assertThat(r.stats().acked()).isZero();
    assertThat(metric(r.metrics(), "splitrt_mqtt_publish_refused_total")).isEqualTo(n);
    assertThat(metric(r.metrics(), "splitrt_mqtt_publish_refused_packet_too_large_total")).isEqualTo(n);
    assertThat(r.healthy()).as(r.health()).isFalse();
    assertThat(r.health()).contains("\"refused\":" + n);
  }
}

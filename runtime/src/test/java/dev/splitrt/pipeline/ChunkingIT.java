package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import dev.splitrt.edge.Delivery;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.spool.Spool;
import dev.splitrt.spool.SpoolSettings;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker whose Maximum Packet Size (Mosquitto {@code max_packet_size 2048}) is smaller than every
 * FeatureFrame of the classifier (~6 KB at 8 bits): with chunking every frame is delivered and
 * answered (per sequence number); without, every frame is refused, counted, and health says so. The
 * spool path (Delivery) chunks the same way, including features it queued whole before the link's
 * first CONNACK told it the broker's limit.
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

  /**
   * The spool path: the edge link has never reached the broker when the edge starts (the broker is
   * down), so the first features are queued whole; the CONNACK then says 2048, the link refuses them
   * (0x95), and the delivery window sends them again as chunks. Every sequence answered exactly once.
   */
  @Test
  void spoolPathChunksEveryFeatureIncludingThoseQueuedBeforeTheFirstConnack() throws Exception {
    MetricsRegistry edgeMetrics = new MetricsRegistry();
    EdgeSettings es = new EdgeSettings("cam-cks", FLEET, 0, 4, 1, new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), true);
    int window = 64;
    Map<Long, AtomicInteger> answered = new ConcurrentHashMap<>();
    try (Mosquitto m = Mosquitto.start(dir.resolve("spool"), "max_packet_size 2048");
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(m.url(), "tail-cks")
             .withReceiveMaxPacketBytes(TailRunner.maxFeaturePacketBytes(List.of(model))), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "cks", "tail-cks", 1, 1, false, 64), List.of(model), ort,
             tailLink, new MetricsRegistry())) {
      assertThat(tailLink.awaitConnected(Duration.ofSeconds(20))).isTrue();
      m.kill();
      try (Spool spool = Spool.open(SpoolSettings.defaults(dir.resolve("spool-dir")));
           MqttLink edgeLink = MqttLink.start(MqttSettings.defaults(m.url(), "edge-cks"), null, edgeMetrics);
           Delivery delivery = new Delivery(spool, edgeLink, new Delivery.Settings(window, Duration.ofSeconds(2),
               Duration.ofSeconds(8), Duration.ofSeconds(30), true), FLEET, "cam-cks", model.manifest().id(), edgeMetrics);
           EdgeDaemon edge = EdgeDaemon.create(es, model, ort, FrameSources.open(model.resolve("eval").toString()), edgeLink, delivery,
               edgeMetrics)) {
        assertThat(edgeLink.maxPacketBytes()).as("never connected: the limit is not known yet").isZero();
        delivery.onAnswered(k -> answered.computeIfAbsent(k.sequence(), q -> new AtomicInteger()).incrementAndGet());
        delivery.start();
        edge.start();
        long t0 = System.nanoTime();
        while (delivery.counts().accepted() < window && System.nanoTime() - t0 < 60_000_000_000L) Thread.sleep(20);
        m.restart();
        assertThat(edge.awaitSourceDone(Duration.ofSeconds(120))).isTrue();
        boolean drained = edge.stop(Duration.ofSeconds(120));
        Delivery.Counts c = delivery.counts();
        EdgeStats s = edge.stats();
        long resplit = metric(edgeMetrics, "splitrt_edge_features_resplit_total");
        System.out.printf("spool path through a 2048-byte broker: accepted %d, answered %d, expired %d, resent %d, duplicate "
                + "results %d, chunked %d, re-split after the first CONNACK %d, refused by the link %d%n", s.accepted(), c.answered(),
            c.expired(), c.resent(), c.duplicateResults(), metric(edgeMetrics, "splitrt_edge_features_chunked_total"), resplit,
            metric(edgeMetrics, "splitrt_mqtt_publish_refused_total"));
        assertThat(drained).as("every accepted feature answered within the drain").isTrue();
        assertThat(s.accepted()).isEqualTo(300); // the eval folder's 300 images
        assertThat(c.expired()).as("nothing expired (none refused for good)").isZero();
        assertThat(c.unanswered()).isZero();
        Map<Long, Integer> wrong = new TreeMap<>();
        for (long q = 0; q < s.accepted(); q++) {
          AtomicInteger n = answered.get(q);
          if (n == null || n.get() != 1) wrong.put(q, n == null ? 0 : n.get());
        }
        assertThat(wrong).as("sequences answered other than exactly once").isEmpty();
        assertThat(answered).hasSize(300);
        assertThat(metric(edgeMetrics, "splitrt_edge_features_chunked_total")).as("every feature went as chunks").isEqualTo(300);
        assertThat(resplit).as("the features queued whole before the first CONNACK were split and sent again")
            .isBetween(1L, (long) window);
        assertThat(metric(edgeMetrics, "splitrt_mqtt_publish_refused_total")).as("only those were refused").isEqualTo(resplit);
        assertThat(c.duplicateResults()).as("duplicate results at most the resends").isLessThanOrEqualTo(c.resent());
        assertThat(tail.awaitIdle(30_000)).isTrue();
      }
    }
  }
}

package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.eval.EvalLabels;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.EmbeddedHiveMq;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole split, end to end, with the zoo's real models and real brokers: edge daemon → broker →
 * tail runner → results, measured against the model cards.
 */
class SplitPipelineIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "it";

  private final ModelRegistry registry = new ModelRegistry(REPO.resolve("models"));
  private final InferenceBackend backend = Backends.byName("onnxruntime").orElseThrow();

  @Test
  void classifierThroughMosquittoMatchesTheCardsSplit8BitAccuracy(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    try (Mosquitto broker = Mosquitto.start(dir)) {
      LoadedModel model = registry.load("fs-bottlefit-cls");
      Run run = run(broker.url(), model, model.resolve("eval").toString(), Duration.ofSeconds(120));
      assertThat(run.stats.captured()).isEqualTo(300);
      assertThat(run.stats.dropped()).isZero();
      assertThat(run.results.count()).isEqualTo(300);
      double card = metric(model, "split_8bit");
      System.out.printf("classifier via mosquitto: top-1 %.4f, card %.4f, %d bytes/frame%n", run.score, card,
          run.stats.featureBytes() / run.stats.accepted());
      assertThat(run.score).isCloseTo(card, org.assertj.core.data.Offset.offset(0.01));
    }
  }

  @Test
  void detectorThroughEmbeddedHiveMqMatchesTheCardsSplit8BitMap(@TempDir Path dir) throws Exception {
    try (EmbeddedHiveMq broker = EmbeddedHiveMq.start(0, dir.resolve("hivemq"))) {
      LoadedModel model = registry.load("fs-leyolo-nano-det");
      Run run = run(broker.url(), model, model.resolve("eval").toString(), Duration.ofSeconds(180));
      assertThat(run.results.count()).isEqualTo(200);
      double card = metric(model, "split_8bit");
      System.out.printf("detector via hivemq: mAP@0.5 %.4f, card %.4f%n", run.score, card);
      assertThat(run.score).isCloseTo(card, org.assertj.core.data.Offset.offset(0.01));
    }
  }

  @Test
  void brokerRestartMidRunLosesNoAcceptedFeature(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    try (Mosquitto broker = Mosquitto.start(dir, "persistence true", "persistence_location " + dir + "/")) {
      LoadedModel model = registry.load("fs-bottlefit-cls");
      // A paced (live) source: the outage happens while frames keep coming, as with a camera. Set up
      // as the daemons' defaults are: the broker persists sessions, the tail and the result listener
      // keep theirs (what the broker acknowledged but had not yet delivered survives the restart), and
      // the edge backs off longer than the subscribers, so they are back when it resends (Mosquitto
      // does not queue shared-subscription messages while no member of the group is connected).
      // The outage starts 1.5 s after the edge's first connection, not 1.5 s after the test's start: on a loaded
      // box the edge can take longer than that to load its model and connect, and an outage before its first
      // connection is another test (edgeStartedBeforeTheBrokerConnectsWhenTheBrokerAppears).
      String edgeConnected = " as edge-" + model.manifest().id() + " ";
      Thread restarter = new Thread(() -> {
        try {
          long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
          while (!broker.log().contains(edgeConnected) && System.nanoTime() < deadline) Thread.sleep(50);
          Thread.sleep(1_500);
          broker.stop();
          Thread.sleep(2_000);
          broker.restart();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      restarter.start();
      Run run = run(broker.url(), model, model.resolve("eval") + "?fps=60", Duration.ofSeconds(120), Duration.ofMillis(4_000));
      restarter.join();
      Set<Long> missing = new TreeSet<>();
      for (long s = 0; s < run.stats.captured(); s++) missing.add(s);
      for (ResultCollector.Result r : run.results.results()) missing.remove(r.sequence());
      System.out.printf("restart: captured %d, accepted %d, dropped %d, results %d, duplicates %d, reconnects %d%n",
          run.stats.captured(), run.stats.accepted(), run.stats.dropped(), run.results.count(), run.results.duplicates(), run.edgeReconnects);
      assertThat(run.edgeReconnects).as("the edge noticed the outage and reconnected").isGreaterThanOrEqualTo(1);
      assertThat(run.stats.accepted()).isEqualTo(run.stats.captured() - run.stats.dropped() - run.stats.failed());
      if (run.results.count() != run.stats.accepted()) System.out.println("mosquitto log:\n" + broker.log());
      assertThat(run.results.count()).as("every accepted feature has a result; missing: %s", missing).isEqualTo(run.stats.accepted());
    }
  }

  @Test
  void edgeStartedBeforeTheBrokerConnectsWhenTheBrokerAppears(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    try (Mosquitto broker = Mosquitto.start(dir)) {
      broker.stop();
      LoadedModel model = registry.load("fs-bottlefit-cls");
      MetricsRegistry metrics = new MetricsRegistry();
      try (MqttLink edgeLink = MqttLink.start(edgeMqtt(broker.url(), "early-edge", Duration.ofMillis(800)), EdgeDaemon.will(FLEET, "cam-early"));
           EdgeDaemon edge = EdgeDaemon.create(edgeSettings("cam-early"), model, backend,
               FrameSources.open(model.resolve("eval").toString()), edgeLink, metrics)) {
        assertThat(edgeLink.awaitConnected(Duration.ofSeconds(1))).isFalse();
        Thread starter = new Thread(() -> {
          try {
            Thread.sleep(1_000);
            broker.restart();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        starter.start();
        edge.start();
        assertThat(edge.awaitSourceDone(Duration.ofSeconds(60))).isTrue();
        assertThat(edge.stop(Duration.ofSeconds(30))).as("outbox drained after the broker appeared").isTrue();
        starter.join();
        assertThat(edge.stats().acked()).isEqualTo(300);
      }
    }
  }

  @Test
  void liveSourceFasterThanTheHeadDropsTheOldestFramesBeforeTheHeadOnly(@TempDir Path dir) throws Exception {
    try (EmbeddedHiveMq broker = EmbeddedHiveMq.start(0, dir.resolve("hivemq"))) {
      LoadedModel model = registry.load("fs-leyolo-nano-det");
      // 1,000 frames/s paced ("live") against a head that takes milliseconds: the queue must overflow.
      Run run = run(broker.url(), model, model.resolve("eval") + "?fps=1000", Duration.ofSeconds(120));
      EdgeStats s = run.stats;
      System.out.printf("live overload: captured %d, accepted %d, dropped %d, failed %d, results %d%n", s.captured(), s.accepted(),
          s.dropped(), s.failed(), run.results.count());
      assertThat(s.captured()).isEqualTo(200);
      assertThat(s.dropped()).as("frames dropped before the head").isPositive();
      assertThat(s.accepted() + s.dropped() + s.failed()).isEqualTo(s.captured());
      assertThat(run.results.count()).as("nothing accepted is lost").isEqualTo(s.accepted());
    }
  }

  @Test
  void twoTailRunnersInOneGroupShareTheLoad(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    try (Mosquitto broker = Mosquitto.start(dir)) {
      LoadedModel model = registry.load("fs-bottlefit-cls");
      MetricsRegistry m1 = new MetricsRegistry();
      MetricsRegistry m2 = new MetricsRegistry();
      try (MqttLink l1 = MqttLink.start(settings(broker.url(), "tail-a"), null);
           MqttLink l2 = MqttLink.start(settings(broker.url(), "tail-b"), null);
           TailRunner t1 = TailRunner.start(tailSettings("tail-a"), List.of(model), backend, l1, m1);
           TailRunner t2 = TailRunner.start(tailSettings("tail-b"), List.of(model), backend, l2, m2)) {
        Run run = runEdge(broker.url(), model, model.resolve("eval").toString(), Duration.ofSeconds(120), Duration.ofMillis(800));
        assertThat(run.results.count()).isEqualTo(300);
        System.out.printf("shared subscription: tail-a %d, tail-b %d%n", t1.stats().published(), t2.stats().published());
        assertThat(t1.stats().published()).isPositive();
        assertThat(t2.stats().published()).isPositive();
        assertThat(t1.stats().published() + t2.stats().published()).isEqualTo(300);
      }
    }
  }

  private record Run(EdgeStats stats, ResultCollector results, double score, long edgeReconnects) {}

  /** Starts a tail runner, a result collector and an edge daemon over {@code source}; returns when all results are in. */
  private Run run(String url, LoadedModel model, String source, Duration timeout) throws Exception {
    return run(url, model, source, timeout, Duration.ofMillis(800));
  }

  /**
   * {@code edgeBackoffMin}: the restart test makes the device's first retry come after the subscribers'
   * (they retry at least once a second), so the order does not depend on jitter.
   */
  private Run run(String url, LoadedModel model, String source, Duration timeout, Duration edgeBackoffMin)
      throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (MqttLink tailLink = MqttLink.start(settings(url, "tail-" + model.manifest().id()).withSessionExpiry(600), null);
         TailRunner tail = TailRunner.start(tailSettings("tail-" + model.manifest().id()), List.of(model), backend, tailLink, metrics)) {
      assertThat(tailLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
      Run run = runEdge(url, model, source, timeout, edgeBackoffMin);
      System.out.println("tail: " + tail.stats() + ", link " + tailLink.stats());
      return run;
    }
  }

  private Run runEdge(String url, LoadedModel model, String source, Duration timeout, Duration edgeBackoffMin) throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (MqttLink resultLink = MqttLink.start(settings(url, "results-" + model.manifest().id()).withSessionExpiry(600), null);
         MqttLink edgeLink = MqttLink.start(edgeMqtt(url, "edge-" + model.manifest().id(), edgeBackoffMin), EdgeDaemon.will(FLEET, "cam-1"));
         EdgeDaemon edge = EdgeDaemon.create(edgeSettings("cam-1"), model, backend, FrameSources.open(source), edgeLink, metrics)) {
      assertThat(resultLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
      assertThat(edgeLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
      ResultCollector results = ResultCollector.attach(resultLink, FLEET);
      Thread.sleep(300); // subscriptions settle on the broker
      edge.start();
      assertThat(edge.awaitSourceDone(timeout)).as("source processed in time").isTrue();
      assertThat(edge.stop(Duration.ofSeconds(30))).as("outbox drained").isTrue();
      EdgeStats stats = edge.stats();
      results.awaitCount((int) stats.accepted(), timeout.toMillis());
      return new Run(stats, results, score(model, results), edgeLink.stats().reconnects());
    }
  }

  private static double score(LoadedModel model, ResultCollector results) throws Exception {
    ResultCollector.Score s = results.score(EvalLabels.read(model.resolve(model.manifest().eval().labels())));
    return model.manifest().task() == ModelManifest.Task.CLASSIFICATION ? s.top1() : s.map50();
  }


  @SuppressWarnings("unchecked")
  private static double metric(LoadedModel model, String key) {
    return ((Number) ((Map<String, Object>) model.manifest().metrics().get("eval_subset")).get(key)).doubleValue();
  }

  private static MqttSettings settings(String url, String clientId) {
    MqttSettings d = MqttSettings.defaults(url, clientId);
    return new MqttSettings(d.url(), d.clientId(), null, null, null, d.keepAliveSeconds(), Duration.ofMillis(100), Duration.ofMillis(1_000),
        d.maxInflight(), d.outboxBytes());
  }

  /** Devices back off longer than tail runners and result consumers (the daemons' defaults, scaled down). */
  private static MqttSettings edgeMqtt(String url, String clientId, Duration backoffMin) {
    MqttSettings d = MqttSettings.defaults(url, clientId);
    return new MqttSettings(d.url(), d.clientId(), null, null, null, d.keepAliveSeconds(), backoffMin, backoffMin.multipliedBy(2),
        d.maxInflight(), d.outboxBytes());
  }

  private static EdgeSettings edgeSettings(String device) {
    return new EdgeSettings(device, FLEET, 0, 4, 0, new CodecSpec(8, dev.splitrt.codec.Granularity.PER_TENSOR, false, dev.splitrt.codec.Entropy.NONE));
  }

  private static TailRunner.Settings tailSettings(String id) {
    return new TailRunner.Settings(FLEET, "it-tail", id, 1, 0, true, 64);
  }
}

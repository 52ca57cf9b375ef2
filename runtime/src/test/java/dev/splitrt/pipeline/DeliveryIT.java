package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import dev.splitrt.edge.Delivery;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.spool.Spool;
import dev.splitrt.spool.Spool.Key;
import dev.splitrt.spool.SpoolSettings;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The delivery contract against a real Mosquitto that is killed (-9) in the middle of a live
 * stream: every feature the edge accepted ends with exactly one result at the device, counted per
 * sequence number; none expires. The edge reconnects with the same backoff as the tail, so either
 * may be back first: the race that lost features when PUBACK was the end of the edge's duty.
 */
class DeliveryIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "dl";
  private static final String DEVICE = "cam-dl";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final InferenceBackend backend = Backends.byName("onnxruntime").orElseThrow();

  @BeforeAll
  static void mosquitto() {
    Mosquitto.assumeAvailable();
  }

  static Stream<Arguments> outages() {
    return Stream.of(Arguments.of(3, true), Arguments.of(3, false), Arguments.of(10, true), Arguments.of(10, false),
        Arguments.of(60, false));
  }

  @ParameterizedTest(name = "outage {0} s, persistence {1}")
  @MethodSource("outages")
  void brokerKilledMidStreamEveryAcceptedFeatureGetsExactlyOneResult(int outageSeconds, boolean persistence,
      @TempDir Path dir) throws Exception {
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    String[] conf = persistence
        ? new String[] {"persistence true", "persistence_location " + dir + "/", "autosave_interval 1"}
        : new String[] {"persistence false"};
    try (Mosquitto broker = Mosquitto.start(dir, conf)) {
      MetricsRegistry metrics = new MetricsRegistry();
      SpoolSettings ss = new SpoolSettings(dir.resolve("spool"), 64L << 20, 1L << 20, Duration.ofMinutes(10),
          SpoolSettings.Fsync.INTERVAL, Duration.ofMillis(50), SpoolSettings.FullPolicy.BLOCK);
      Map<Long, AtomicInteger> answeredPerSequence = new ConcurrentHashMap<>();
      Map<Long, AtomicInteger> resultsSeen = new ConcurrentHashMap<>();
      try (MqttLink tailLink = MqttLink.start(mqtt(broker.url(), "dl-tail").withSessionExpiry(600), null);
           TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "dl-group", "dl-tail", 1, 0, false, 64),
               List.of(model), backend, tailLink, metrics);
           MqttLink observer = MqttLink.start(mqtt(broker.url(), "dl-observer").withSessionExpiry(600), null);
           Spool spool = Spool.open(ss);
           MqttLink edgeLink = MqttLink.start(mqtt(broker.url(), "edge-" + DEVICE), EdgeDaemon.will(FLEET, DEVICE));
           Delivery delivery = new Delivery(spool, edgeLink, new Delivery.Settings(64, Duration.ofSeconds(2),
               Duration.ofSeconds(8), Duration.ofSeconds(30)), FLEET, DEVICE, model.manifest().id(), metrics);
           EdgeDaemon edge = EdgeDaemon.create(new EdgeSettings(DEVICE, FLEET, 0, 8, 0,
                   new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE)), model, backend,
               FrameSources.open(model.resolve("eval") + "?fps=20"), edgeLink, delivery, metrics)) {
        assertThat(tailLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
        assertThat(observer.awaitConnected(Duration.ofSeconds(15))).isTrue();
        observer.subscribe(Topics.results(FLEET, DEVICE, model.manifest().id()), 1, (t, p) -> {
          JsonNode r = JSON.readTree(p);
          resultsSeen.computeIfAbsent(r.get("sequence").asLong(), k -> new AtomicInteger()).incrementAndGet();
        });
        delivery.onAnswered(k -> answeredPerSequence.computeIfAbsent(k.sequence(), s -> new AtomicInteger())
            .incrementAndGet());
        delivery.start();
        Thread.sleep(300);
        edge.start();
        // Kill the broker once results flow (about 2 s into the 15 s stream), keep it down, bring it back.
        long t0 = System.nanoTime();
        while (answeredPerSequence.size() < 30 && System.nanoTime() - t0 < 60_000_000_000L) Thread.sleep(20);
        assertThat(answeredPerSequence).as("results flow before the outage").hasSizeGreaterThanOrEqualTo(30);
        broker.kill();
        long killedAt = delivery.counts().accepted();
        Thread.sleep(outageSeconds * 1000L);
        broker.restart();
        assertThat(edge.awaitSourceDone(Duration.ofSeconds(120))).isTrue();
        boolean drained = edge.stop(Duration.ofSeconds(outageSeconds + 60));
        EdgeStats stats = edge.stats();
        Delivery.Counts c = delivery.counts();
        Thread.sleep(500); // last results reach the observer
        System.out.printf("outage %d s persistence %s: captured %d, accepted %d (%d at the kill), dropped %d, answered %d, "
                + "expired %d, resent %d, duplicate results %d, spool left %d, observer saw %d results for %d sequences%n",
            outageSeconds, persistence, stats.captured(), stats.accepted(), killedAt, stats.dropped(), c.answered(),
            c.expired(), c.resent(), c.duplicateResults(), c.unanswered(),
            resultsSeen.values().stream().mapToInt(AtomicInteger::get).sum(), resultsSeen.size());
        assertThat(drained).as("every accepted feature answered within the drain").isTrue();
        assertThat(stats.accepted()).isEqualTo(stats.captured() - stats.dropped() - stats.failed());
        assertThat(c.expired()).as("nothing expired").isZero();
        assertThat(c.unanswered()).isZero();
        // Per sequence: every accepted feature answered exactly once.
        Map<Long, Integer> wrong = new TreeMap<>();
        answeredPerSequence.forEach((s, n) -> {
          if (n.get() != 1) wrong.put(s, n.get());
        });
        assertThat(wrong).as("sequences answered other than once").isEmpty();
        assertThat((long) answeredPerSequence.size()).isEqualTo(stats.accepted());
        assertThat(c.answered()).isEqualTo(stats.accepted());
        assertThat(answeredPerSequence.keySet()).allSatisfy(s -> assertThat(s).isBetween(0L, stats.captured() - 1));
        assertThat(c.duplicateResults()).as("duplicate results at most the resends").isLessThanOrEqualTo(c.resent());
        assertThat(spool.liveCount()).isZero();
      }
    }
  }

  /**
   * A long broker outage at 15 fps against Mosquitto's defaults (max_queued_messages 1000): the
   * spool collects more than 1,000 features, and after the broker returns the window, not a flushed
   * outbox, feeds the tail: nothing lost, the link's outbox never holds more than the window, the
   * spool stays under its bound. CI runs 80 s; {@code -Dsplitrt.longOutageSeconds=300} runs the
   * 5-minute case of the issue.
   */
  @org.junit.jupiter.api.Test
  void longOutageAt15FpsAgainstMosquittoDefaultsLosesNothingAndStaysBounded(@TempDir Path dir) throws Exception {
    int outageSeconds = Integer.getInteger("splitrt.longOutageSeconds", 80);
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    try (Mosquitto broker = Mosquitto.start(dir)) {
      MetricsRegistry metrics = new MetricsRegistry();
      long maxBytes = 32L << 20;
      SpoolSettings ss = new SpoolSettings(dir.resolve("spool"), maxBytes, 1L << 20, Duration.ofMinutes(30),
          SpoolSettings.Fsync.INTERVAL, Duration.ofMillis(50), SpoolSettings.FullPolicy.BLOCK);
      Map<Long, AtomicInteger> answeredPerSequence = new ConcurrentHashMap<>();
      int window = 64;
      try (MqttLink tailLink = MqttLink.start(mqtt(broker.url(), "lo-tail").withSessionExpiry(600), null);
           TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "lo-group", "lo-tail", 1, 0, false, 64),
               List.of(model), backend, tailLink, metrics);
           Spool spool = Spool.open(ss);
           MqttLink edgeLink = MqttLink.start(mqtt(broker.url(), "edge-" + DEVICE), EdgeDaemon.will(FLEET, DEVICE));
           Delivery delivery = new Delivery(spool, edgeLink, new Delivery.Settings(window, Duration.ofSeconds(5),
               Duration.ofSeconds(20), Duration.ofSeconds(30)), FLEET, DEVICE, model.manifest().id(), metrics);
           EdgeDaemon edge = EdgeDaemon.create(new EdgeSettings(DEVICE, FLEET, 0, 8, 0,
                   new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE)), model, backend,
               FrameSources.open(model.resolve("eval") + "?fps=15&loop=0"), edgeLink, delivery, metrics)) {
        assertThat(tailLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
        delivery.onAnswered(k -> answeredPerSequence.computeIfAbsent(k.sequence(), s -> new AtomicInteger())
            .incrementAndGet());
        delivery.start();
        Thread.sleep(300);
        edge.start();
        long[] peak = new long[3]; // spool bytes, link outbox messages, unhealthy samples
        Thread sampler = new Thread(() -> {
          while (!Thread.currentThread().isInterrupted()) {
            peak[0] = Math.max(peak[0], spool.bytes());
            peak[1] = Math.max(peak[1], edgeLink.stats().outboxMessages());
            if (!delivery.healthy()) peak[2]++;
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              return;
            }
          }
        });
        sampler.start();
        Thread.sleep(3_000);
        broker.kill();
        Thread.sleep(outageSeconds * 1000L);
        long spooled = spool.liveCount();
        broker.restart();
        Thread.sleep(5_000); // still streaming while it catches up
        boolean drained = edge.stop(Duration.ofSeconds(180));
        sampler.interrupt();
        sampler.join();
        EdgeStats stats = edge.stats();
        Delivery.Counts c = delivery.counts();
        Runtime rt = Runtime.getRuntime();
        System.out.printf("long outage %d s at 15 fps: captured %d, accepted %d, dropped %d, spooled at the end of the "
                + "outage %d, answered %d, expired %d, resent %d, duplicate results %d; peak spool %d bytes, peak link "
                + "outbox %d messages, unhealthy samples %d, heap used %d MiB, RSS %s%n", outageSeconds,
            stats.captured(), stats.accepted(), stats.dropped(), spooled, c.answered(), c.expired(), c.resent(),
            c.duplicateResults(), peak[0], peak[1], peak[2], (rt.totalMemory() - rt.freeMemory()) >> 20, rss());
        assertThat(spooled).as("more than Mosquitto's max_queued_messages waited in the spool")
            .isGreaterThan(outageSeconds * 15L * 8 / 10);
        assertThat(drained).isTrue();
        assertThat(c.expired()).isZero();
        Map<Long, Integer> wrong = new TreeMap<>();
        answeredPerSequence.forEach((s, n) -> {
          if (n.get() != 1) wrong.put(s, n.get());
        });
        assertThat(wrong).isEmpty();
        assertThat((long) answeredPerSequence.size()).isEqualTo(stats.accepted());
        assertThat(peak[0]).as("spool bytes bounded").isLessThanOrEqualTo(maxBytes);
        assertThat(peak[1]).as("the link's outbox holds at most the window (+ the status message)")
            .isLessThanOrEqualTo(window + 1);
        assertThat(peak[2]).as("health degraded while features waited longer than 30 s").isPositive();
        assertThat(delivery.healthy()).isTrue();
      }
    }
  }

  private static String rss() {
    try {
      return java.nio.file.Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS"))
          .findFirst().map(l -> l.replaceAll("\\s+", " ")).orElse("?");
    } catch (java.io.IOException e) {
      return "?";
    }
  }

  private static MqttSettings mqtt(String url, String clientId) {
    MqttSettings d = MqttSettings.defaults(url, clientId);
    return new MqttSettings(d.url(), d.clientId(), null, null, null, d.keepAliveSeconds(), Duration.ofMillis(250),
        Duration.ofMillis(1_000), d.maxInflight(), d.outboxBytes());
  }
}

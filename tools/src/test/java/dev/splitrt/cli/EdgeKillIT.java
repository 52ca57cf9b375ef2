package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.FeatureDecoder;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.spool.Spool;
import dev.splitrt.spool.Spool.Key;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A power cut of the edge while the broker is down: a real {@code splitrt edge} process with a
 * spool streams, the broker (a real Mosquitto, persistence off) is killed with -9, the edge keeps
 * accepting into its spool, then the edge is killed with -9 too. After both come back, every feature
 * the edge had accepted gets its result, and the new process's identities (epoch 2) do not collide
 * with the old ones (epoch 1), although both number their frames from 0.
 *
 * <p>The fsync window: the edge runs the default {@code fsync: interval} (50 ms). A {@code kill -9}
 * is a process crash, not a power loss: what the process wrote is in the kernel's page cache and
 * survives, so the window that applies here is zero (delivery.md, "fsync policy") and the test
 * expects every accepted feature back. The accepted count is read from the edge's own metrics
 * endpoint just before the kill, so it can only be lower than the truth.
 */
class EdgeKillIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final Path MOSQUITTO = MosquittoProcess.MOSQUITTO;
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void edgeKilledWhileTheBrokerIsDownLosesNothingItAccepted(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(MOSQUITTO), "skipped: " + MOSQUITTO
        + " is missing; install Debian's mosquitto (.ci/run does)");
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    int port = MosquittoProcess.freePort();
    int metricsPort = MosquittoProcess.freePort();
    String url = "tcp://127.0.0.1:" + port;
    Path conf = dir.resolve("mosquitto.conf");
    Files.writeString(conf, "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\n");
    Path spool = dir.resolve("spool");
    Path cfg = dir.resolve("edge.yaml");
    Files.writeString(cfg, "device_id: cam-kill\nfleet: kill\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\n"
        + "source: " + model.resolve("eval") + "?fps=20&loop=0\n"
        + "broker: {url: '" + url + "', backoff_min_ms: 250, backoff_max_ms: 1000}\n"
        + "metrics_port: " + metricsPort + "\n"
        + "spool: {dir: '" + spool + "', fsync: interval, fsync_interval_ms: 50, result_timeout_ms: 2000}\n");
    Map<Key, AtomicInteger> results = new ConcurrentHashMap<>();
    Map<Key, AtomicInteger> sent = new ConcurrentHashMap<>(); // feature messages the broker passed on, per identity
    Process broker = MosquittoProcess.start(conf, port, dir);
    Process edge = null;
    try (MqttLink tailLink = MqttLink.start(fast(url, "kill-tail").withSessionExpiry(600), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings("kill", "kill-group", "kill-tail", 1, 0, false, 64),
             List.of(model), Backends.byName("onnxruntime").orElseThrow(), tailLink, new MetricsRegistry());
         MqttLink observer = MqttLink.start(fast(url, "kill-observer").withSessionExpiry(600), null)) {
      assertThat(observer.awaitConnected(Duration.ofSeconds(15))).isTrue();
      observer.subscribe(Topics.results("kill", "cam-kill", model.manifest().id()), 1, (t, p) -> {
        JsonNode r = JSON.readTree(p);
        results.computeIfAbsent(new Key(r.get("epoch").asLong(), r.get("sequence").asLong()), k -> new AtomicInteger())
            .incrementAndGet();
      });
      FeatureDecoder decoder = new FeatureDecoder(model.manifest().tail().input().elementCount());
      observer.subscribe(Topics.features("kill", "cam-kill", model.manifest().id()), 1, (t, p) -> {
        var h = decoder.decode(p).header();
        sent.computeIfAbsent(new Key(h.epoch(), h.sequence()), k -> new AtomicInteger()).incrementAndGet();
      });
      edge = edge(cfg, dir, "1");
      assertThat(await(() -> count(results, 1) >= 20, 90)).as("epoch 1 streams: " + log(dir, "1")).isTrue();

      broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9 the broker
      Thread.sleep(3_000); // the edge keeps accepting into its spool
      long acceptedBeforeKill = metric(metricsPort, "splitrt_edge_features_accepted_total");
      // Final for this process: nothing is resent while the broker is down (the clock starts at the PUBACK).
      long resentBeforeKill = metric(metricsPort, "splitrt_edge_features_resent_total");
      edge.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9 the edge
      List<Key> unanswered = Spool.peek(spool);
      Set<Long> answeredBefore = sequences(results, 1);
      System.out.printf("at the kill: >= %d accepted, %d answered, %d unanswered in the spool%n", acceptedBeforeKill,
          answeredBefore.size(), unanswered.size());
      assertThat(Spool.lastEpoch(spool)).isEqualTo(1);
      assertThat(unanswered).as("the outage left features in the spool").hasSizeGreaterThanOrEqualTo(20);
      assertThat(unanswered).allSatisfy(k -> assertThat(k.epoch()).isEqualTo(1));
      Set<Long> known = new TreeSet<>(answeredBefore);
      unanswered.forEach(k -> known.add(k.sequence()));
      assertThat((long) known.size()).as("answered + spooled covers everything accepted").isGreaterThanOrEqualTo(acceptedBeforeKill);

      broker = MosquittoProcess.start(conf, port, dir);
      edge = edge(cfg, dir, "2");
      assertThat(await(() -> unanswered.stream().allMatch(results::containsKey) && count(results, 2) >= 20, 120))
          .as("every spooled epoch-1 feature answered after the restart; missing %s; %s",
              unanswered.stream().filter(k -> !results.containsKey(k)).toList(), log(dir, "2")).isTrue();
      assertThat(Spool.lastEpoch(spool)).isEqualTo(2);
      assertThat(results).as("epoch 1 and epoch 2 both have a sequence 0: distinct identities")
          .containsKeys(new Key(1, 0), new Key(2, 0));
      Set<Long> epoch1 = sequences(results, 1);
      Set<Long> missing = new TreeSet<>(known);
      missing.removeAll(epoch1);
      assertThat(missing).as("accepted in epoch 1 and never answered").isEmpty();

      edge.destroy(); // SIGTERM: drains every result, exits 0
      assertThat(edge.waitFor(90, TimeUnit.SECONDS)).isTrue();
      String log2 = log(dir, "2");
      System.out.println("edge 2 stderr tail: " + log2.substring(Math.max(0, log2.length() - 400)));
      assertThat(edge.exitValue()).as(log2).isZero();
      Matcher m = Pattern.compile("epoch 2, answered (\\d+), expired (\\d+), resent (\\d+), duplicate results (\\d+), "
          + "unanswered (\\d+)").matcher(log2);
      assertThat(m.find()).as(log2).isTrue();
      assertThat(Integer.parseInt(m.group(2))).as("expired").isZero();
      assertThat(Integer.parseInt(m.group(5))).as("unanswered").isZero();
      assertThat(Spool.peek(spool)).as("the spool is empty after the drain").isEmpty();
      long recoveredAtStart = unanswered.size(); // what the second process found in the spool and sent first
      long resent = resentBeforeKill + Long.parseLong(m.group(3));
      Thread.sleep(500); // the last results reach the observer
      long dup = results.values().stream().filter(n -> n.get() > 1).count();
      long duplicateResults = results.values().stream().mapToLong(n -> n.get() - 1).sum();
      System.out.printf("results: %d identities, %d with more than one result, %d duplicate results; sends after the first: "
          + "%d resent by epoch 1 + %s by epoch 2, %d sent again by epoch 2 from the spool%n", results.size(), dup, duplicateResults,
          resentBeforeKill, m.group(3), recoveredAtStart);
      // Per identity: never more results than feature messages the broker passed on for it (the tail answers
      // a repeat from its cache, once per copy it receives, and computes nothing twice).
      Map<Key, String> overAnswered = new java.util.TreeMap<>(java.util.Comparator.comparingLong(Key::epoch)
          .thenComparingLong(Key::sequence));
      results.forEach((k, n) -> {
        int copies = sent.getOrDefault(k, new AtomicInteger()).get();
        if (n.get() > copies) overAnswered.put(k, n.get() + " results for " + copies + " sends");
      });
      assertThat(overAnswered).as("identities with more results than sends").isEmpty();
      // In total: the copies beyond the first are the edge's resends, counted by its metrics, plus what the
      // second process sent again from the spool (its first send there; sent before the kill too, maybe).
      assertThat(duplicateResults).as("duplicate results <= resends (epoch 1 + epoch 2) + re-sent from the spool")
          .isLessThanOrEqualTo(resent + recoveredAtStart);
    } finally {
      if (edge != null) edge.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static long count(Map<Key, AtomicInteger> results, long epoch) {
    return results.keySet().stream().filter(k -> k.epoch() == epoch).count();
  }

  private static Set<Long> sequences(Map<Key, AtomicInteger> results, long epoch) {
    Set<Long> s = new TreeSet<>();
    results.keySet().stream().filter(k -> k.epoch() == epoch).forEach(k -> s.add(k.sequence()));
    return s;
  }

  private static Process edge(Path cfg, Path dir, String name) throws IOException {
    Path target = REPO.resolve("tools/target");
    String classpath = target.resolve("splitrt-tools.jar") + java.io.File.pathSeparator + target.resolve("lib") + "/*";
    return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dsplitrt.repo=" + REPO, "-cp", classpath, "dev.splitrt.cli.Main", "edge", "--config", cfg.toString(),
        "--drain-seconds", "60")
        .redirectError(dir.resolve("edge-" + name + ".err").toFile())
        .redirectOutput(dir.resolve("edge-" + name + ".out").toFile()).start();
  }

  private static String log(Path dir, String name) {
    try {
      return Files.readString(dir.resolve("edge-" + name + ".err"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }


  private static long metric(int port, String name) throws IOException {
    HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + port + "/metrics").toURL().openConnection();
    String text = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    Matcher m = Pattern.compile("(?m)^" + name + " (\\d+)").matcher(text);
    if (!m.find()) throw new IOException(name + " not in /metrics:\n" + text);
    return Long.parseLong(m.group(1));
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  private static boolean await(Check c, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (c.ok()) return true;
      Thread.sleep(100);
    }
    return c.ok();
  }

  private static MqttSettings fast(String url, String clientId) {
    MqttSettings d = MqttSettings.defaults(url, clientId);
    return new MqttSettings(d.url(), d.clientId(), null, null, null, d.keepAliveSeconds(), Duration.ofMillis(250),
        Duration.ofMillis(1_000), d.maxInflight(), d.outboxBytes());
  }
}

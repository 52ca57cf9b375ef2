package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.transport.EmbeddedHiveMq;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code splitrt edge} as a real process with its default config (the spool on, in STATE_DIR/spool):
 * SIGTERM in the middle of a live stream stops capture, finishes the queued frames, waits for the
 * result of every accepted feature, and exits 0; every feature it accepted reaches the tail.
 */
class EdgeSigtermIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));

  @Test
  void sigtermDrainsEverythingAcceptedAndExitsZero(@TempDir Path dir) throws Exception {
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    try (EmbeddedHiveMq broker = EmbeddedHiveMq.start(0, dir.resolve("hivemq"));
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(broker.url(), "sig-tail"), null);
         MqttLink resultLink = MqttLink.start(MqttSettings.defaults(broker.url(), "sig-results"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings("sig", "sig-tail", "sig-tail", 1, 0, false, 64), List.of(model),
             Backends.byName("onnxruntime").orElseThrow(), tailLink, new MetricsRegistry())) {
      ResultCollector results = ResultCollector.attach(resultLink, "sig");
      Path cfg = dir.resolve("edge.yaml");
      Files.writeString(cfg, "device_id: cam-sig\nfleet: sig\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\n"
          + "source: " + model.resolve("eval") + "?fps=30&loop=0\n" + "broker: {url: '" + broker.url() + "'}\n"
          + "state_dir: '" + dir.resolve("state") + "'\n"); // the default config: the spool is on, in STATE_DIR/spool
      Path err = dir.resolve("edge.err");
      // The classpath the launcher (tools/splitrt) uses, laid out by `mvn package` before this suite runs.
      Path target = REPO.resolve("tools/target");
      String classpath = target.resolve("splitrt-tools.jar") + java.io.File.pathSeparator + target.resolve("lib") + "/*";
      Process edge = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Dsplitrt.repo=" + REPO, "-cp", classpath, "dev.splitrt.cli.Main", "edge", "--config", cfg.toString())
          .redirectError(err.toFile()).redirectOutput(dir.resolve("edge.out").toFile()).start();
      // Let it stream for a while (a looping, paced source never ends by itself).
      boolean streaming = results.awaitCount(40, 60_000);
      if (!streaming) {
        System.out.println("edge alive: " + edge.isAlive() + ", stdout: " + Files.readString(dir.resolve("edge.out")) + ", stderr: " + Files.readString(err));
      }
      assertThat(streaming).as("edge streams").isTrue();
      edge.destroy(); // SIGTERM
      assertThat(edge.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String log = Files.readString(err, StandardCharsets.UTF_8);
      System.out.println("edge stderr tail: " + log.substring(Math.max(0, log.length() - 600)));
      assertThat(edge.exitValue()).as(log).isZero();
      Matcher m = Pattern.compile("captured (\\d+), accepted (\\d+), acked (\\d+), dropped (\\d+)").matcher(log);
      assertThat(m.find()).as(log).isTrue();
      int accepted = Integer.parseInt(m.group(2));
      Matcher d = Pattern.compile("epoch 1, answered (\\d+), expired (\\d+), resent (\\d+), duplicate results (\\d+), "
          + "unanswered (\\d+)").matcher(log);
      assertThat(d.find()).as("the spool is on by default: " + log).isTrue();
      assertThat(Integer.parseInt(d.group(1))).as("answered = accepted").isEqualTo(accepted);
      assertThat(Integer.parseInt(d.group(2))).as("expired").isZero();
      assertThat(Integer.parseInt(d.group(5))).as("unanswered").isZero();
      assertThat(dev.splitrt.spool.Spool.peek(dir.resolve("state/spool"))).as("the spool is empty after the drain").isEmpty();
      assertThat(results.awaitCount(accepted, 30_000)).as("every accepted feature has a result").isTrue();
      assertThat(results.count()).isEqualTo(accepted);
    }
  }
}

package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code splitrt edge} as a real process exits non-zero, with the reason on stderr, when it stops
 * without having done its job: an invalid config, or a broker (a real Mosquitto with
 * {@code max_packet_size 2048}, chunking off) that refuses every frame, with and without a spool.
 */
class EdgeExitCodeIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final Path MOSQUITTO = MosquittoProcess.MOSQUITTO;

  @Test
  void anInvalidConfigExitsOneNamingTheField(@TempDir Path dir) throws Exception {
    Path cfg = dir.resolve("edge.yaml");
    Files.writeString(cfg, "device_id: 'cam 01'\nfleet: x\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\nsource: nowhere\n"
        + "broker: {url: 'tcp://127.0.0.1:1'}\n");
    Process edge = edge(cfg, dir);
    assertThat(edge.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String err = Files.readString(dir.resolve("edge.err"), StandardCharsets.UTF_8);
    assertThat(edge.exitValue()).as(err).isEqualTo(1);
    assertThat(err).contains("edge.yaml").contains("'device_id'");
  }

  @ParameterizedTest(name = "spool {0}")
  @ValueSource(booleans = {false, true})
  void aBrokerThatRefusesEveryFrameMakesTheEdgeExitOne(boolean spool, @TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(MOSQUITTO), "skipped: " + MOSQUITTO
        + " is missing; install Debian's mosquitto (.ci/run does)");
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    int port = MosquittoProcess.freePort();
    Path conf = dir.resolve("mosquitto.conf");
    Files.writeString(conf, "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\nmax_packet_size 2048\n");
    Process broker = MosquittoProcess.start(conf, port, dir);
    Process edge = null;
    try {
      Path cfg = dir.resolve("edge.yaml");
      Files.writeString(cfg, "device_id: cam-exit\nfleet: exit\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\n"
          + "source: " + model.resolve("eval") + "\n" // 300 images, then the source ends
          + "broker: {url: 'tcp://127.0.0.1:" + port + "', max_packet_bytes: 2048}\n" // known before the first send
          + "chunking: false\n"
          + "pipeline: {codec: {bits: 8, granularity: per_tensor, symmetric: false, entropy: none}}\n" // ~6.4 KB: none fits
          + "state_dir: '" + dir.resolve("state") + "'\n"
          + (spool ? "" : "spool: {enabled: false}\n")); // the spool is on by default
      edge = edge(cfg, dir);
      assertThat(edge.waitFor(120, TimeUnit.SECONDS)).isTrue();
      String err = Files.readString(dir.resolve("edge.err"), StandardCharsets.UTF_8);
      String tail = err.substring(Math.max(0, err.length() - 1_500));
      System.out.println("spool " + spool + ": exit " + edge.exitValue() + "; stderr tail: " + tail);
      assertThat(edge.exitValue()).as(tail).isEqualTo(1);
      assertThat(err).contains("edge cam-exit: exit 1: ");
      assertThat(err).contains(spool ? "300 accepted features expired without a result" : "300 of 300 features refused by the broker");
    } finally {
      if (edge != null) edge.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Process edge(Path cfg, Path dir) throws IOException {
    Path target = REPO.resolve("tools/target");
    String classpath = target.resolve("splitrt-tools.jar") + java.io.File.pathSeparator + target.resolve("lib") + "/*";
    return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dsplitrt.repo=" + REPO, "-cp", classpath, "dev.splitrt.cli.Main", "edge", "--config", cfg.toString(),
        "--drain-seconds", "20")
        .redirectError(dir.resolve("edge.err").toFile()).redirectOutput(dir.resolve("edge.out").toFile()).start();
  }
}

package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line's contract: help everywhere, one clear line and exit code 1 for the user's mistakes. */
class CliTest {
  record Outcome(int code, String out, String err) {}

  /** Runs the CLI in-process; stdout is redirected before the command line is built (picocli binds it then). */
  static Outcome run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream sysOut = new ByteArrayOutputStream();
    System.setOut(new PrintStream(sysOut, true, StandardCharsets.UTF_8));
    try {
      CommandLine cl = Main.commandLine();
      StringWriter err = new StringWriter();
      PrintWriter errW = new PrintWriter(err);
      cl.setErr(errW);
      int code = cl.execute(args);
      errW.flush();
      System.out.flush();
      return new Outcome(code, sysOut.toString(StandardCharsets.UTF_8), err.toString());
    } finally {
      System.setOut(old);
    }
  }

  @Test
  void everyCommandHasHelp() {
    for (String c : new String[] {"demo", "edge", "tail", "models", "profiles"}) {
      Outcome o = run(c, "--help");
      assertThat(o.code()).as(c).isZero();
      assertThat(o.out()).as(c).contains("Usage: splitrt " + c);
    }
  }

  @Test
  void noCommandIsAUsageError() {
    Outcome o = run();
    assertThat(o.code()).isEqualTo(2);
    assertThat(o.err()).contains("a command is required");
  }

  @Test
  void modelsListsAndValidatesTheZoo() {
    Outcome o = run("models");
    assertThat(o.code()).isZero();
    assertThat(o.out()).contains("fs-bottlefit-cls").contains("fs-leyolo-nano-det");
    Outcome one = run("models", "fs-leyolo-nano-det");
    assertThat(one.code()).isZero();
    assertThat(one.out()).contains("valid");
  }

  @Test
  void unknownModelIsOneClearLineAndExitCode1() {
    Outcome o = run("models", "no-such-model");
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.err()).contains("no-such-model").contains("fs-bottlefit-cls");
    assertThat(o.err()).doesNotContain("Exception");
  }

  @Test
  void malformedEdgeConfigNamesTheFileAndTheField(@TempDir Path dir) throws Exception {
    Path cfg = dir.resolve("edge.yaml");
    Files.writeString(cfg, "device_id: cam-01\nfleet: demo\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\n"
        + "source: models/fs-bottlefit-cls/eval\nbroker: {url: http://localhost:80}\n");
    Outcome o = run("edge", "--config", cfg.toString());
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.err()).contains(cfg.toString()).contains("broker.url").contains("tcp://");
  }

  @Test
  void unknownConfigKeyIsRejectedWithTheKnownKeys(@TempDir Path dir) throws Exception {
    Path cfg = dir.resolve("tail.yaml");
    Files.writeString(cfg, "fleet: demo\ngroup: tail\nmodels: [fs-bottlefit-cls]\nbroker: {url: tcp://127.0.0.1:1}\nworkerz: 2\n");
    Outcome o = run("tail", "--config", cfg.toString());
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.err()).contains("workerz").contains("workers");
  }

  @Test
  void yamlSyntaxErrorGivesTheLine(@TempDir Path dir) throws Exception {
    Path cfg = dir.resolve("tail.yaml");
    Files.writeString(cfg, "fleet: demo\ngroup: 'unterminated\n");
    Outcome o = run("tail", "--config", cfg.toString());
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.err()).contains(cfg.toString()).contains("malformed YAML");
  }
}

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

  private static void listener18883Only(Path ca, String after) throws Exception {
    String conf = Files.readString(ca.resolve("broker/mosquitto.conf"));
    assertThat(conf).as("mosquitto.conf after %s", after).contains("\nlistener 18883 127.0.0.1\n").doesNotContain("listener 8883");
  }

  /**
   * Issue 12 acceptance: 'ca init --port 18883' stays 18883 through every command that rewrites the
   * broker files ('provision tail', 'provision device', 'revoke'), run as an operator runs them.
   */
  @Test
  void thePortGivenToCaInitStaysThroughProvisionTailDeviceAndRevoke(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("pki");
    Outcome init = run("provision", "ca", "init", "--dir", ca.toString(), "--fleet", "demo", "--port", "18883", "--bind-address", "127.0.0.1",
        "--no-broker-group");
    assertThat(init.code()).as(init.err()).isZero();
    assertThat(init.out()).contains("listener 127.0.0.1:18883");
    listener18883Only(ca, "ca init");
    Outcome tail = run("provision", "tail", "--ca", ca.toString(), "--id", "tail-a", "--out", dir.resolve("tails").toString());
    assertThat(tail.code()).as(tail.err()).isZero();
    listener18883Only(ca, "provision tail");
    Outcome device = run("provision", "device", "--ca", ca.toString(), "--id", "cam-1", "--profile", "x86-64-cpu", "--model", "fs-bottlefit-cls",
        "--broker", "mqtts://127.0.0.1:18883", "--out", dir.resolve("bundles").toString());
    assertThat(device.code()).as(device.err()).isZero();
    listener18883Only(ca, "provision device");
    Outcome revoke = run("provision", "revoke", "cam-1", "--ca", ca.toString());
    assertThat(revoke.code()).as(revoke.err()).isZero();
    listener18883Only(ca, "provision revoke");
  }

  /**
   * Issue 12 acceptance: a first 'provision install' without a pinned CA is refused (exit 1, nothing
   * installed) with a message that says how to pin it; the fingerprint 'ca init' printed, given as the
   * message says, then installs.
   */
  @Test
  void aFirstInstallWithoutAPinnedCaIsRefusedWithHowToPinIt(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("pki");
    Outcome init = run("provision", "ca", "init", "--dir", ca.toString(), "--fleet", "demo", "--no-broker-group");
    assertThat(init.code()).as(init.err()).isZero();
    java.util.regex.Matcher fp = java.util.regex.Pattern.compile("--ca-fingerprint (SHA256:[0-9a-f]{64})").matcher(init.out());
    assertThat(fp.find()).as("ca init prints the pin: %s", init.out()).isTrue();
    Outcome device = run("provision", "device", "--ca", ca.toString(), "--id", "cam-1", "--profile", "x86-64-cpu", "--model", "fs-bottlefit-cls",
        "--broker", "mqtts://127.0.0.1:8883", "--out", dir.resolve("bundles").toString());
    assertThat(device.code()).as(device.err()).isZero();
    Path bundle = dir.resolve("bundles/cam-1.tar.gz");
    assertThat(bundle).exists();

    Outcome refused = run("provision", "install", bundle.toString(), "--root", dir.resolve("root").toString());
    System.out.println("first install without a pin: " + refused.err().strip());
    assertThat(refused.code()).isEqualTo(1);
    assertThat(refused.err()).contains("no fleet CA is pinned").contains("--ca-fingerprint SHA256:").contains("--trust-ca FILE")
        .contains("Nothing installed");
    assertThat(dir.resolve("root/current")).doesNotExist();

    Outcome pinned = run("provision", "install", bundle.toString(), "--root", dir.resolve("root").toString(), "--ca-fingerprint", fp.group(1));
    assertThat(pinned.code()).as(pinned.err()).isZero();
    assertThat(pinned.out()).contains("matches the pinned fingerprint");
    assertThat(dir.resolve("root/current")).exists();
  }
}

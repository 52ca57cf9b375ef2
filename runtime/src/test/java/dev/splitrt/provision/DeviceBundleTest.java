package dev.splitrt.provision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.config.EdgeConfig;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceBundleTest {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  @TempDir Path dir;
  FleetCa ca;
  Path bundle;

  @BeforeEach
  void bundle() throws Exception {
    ca = FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(3650));
    DeviceBundle.Spec spec = DeviceBundle.Spec.of("cam-01", "fs-bottlefit-cls", "jetson-orin-nano-8gb", "mqtts://broker.example:8883",
        REPO.resolve("models"), REPO.resolve("device-profiles"));
    bundle = DeviceBundle.build(ca, spec, dir.resolve("out")).bundle();
  }

  @Test
  void theBundleHoldsAValidEdgeConfigModelProfileAndAnOwnerOnlyKey() throws Exception {
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(bundle))).isEqualTo("rw-------");
    assertThat(dir.resolve("out")).isDirectoryNotContaining("glob:**.key");
    List<Tar.Extracted> files = Tar.extract(bundle, Files.createDirectories(dir.resolve("x")));
    List<String> names = files.stream().map(Tar.Extracted::name).toList();
    assertThat(names).contains("bundle.yaml", "config/edge.yaml", "profiles/jetson-orin-nano-8gb.yaml", "models/fs-bottlefit-cls/model.yaml",
        "models/fs-bottlefit-cls/head.onnx", "models/fs-bottlefit-cls/reference/vectors.json", "tls/ca.pem", "tls/device.pem",
        "tls/device.key", "systemd/splitrt-edge.service", "MANIFEST.sha256", "MANIFEST.sha256.sig");
    for (Tar.Extracted f : files) {
      if (f.name().equals("tls/device.key")) {
        assertThat(f.mode()).isEqualTo(0600);
      } else {
        assertThat(f.mode()).as(f.name()).isEqualTo(0644);
        assertThat(new String(Files.readAllBytes(f.path()), StandardCharsets.ISO_8859_1)).as(f.name()).doesNotContain("PRIVATE KEY");
      }
    }
    Path x = dir.resolve("x");
    EdgeConfig c = EdgeConfig.read(x.resolve("config/edge.yaml"));
    assertThat(c.deviceId()).isEqualTo("cam-01");
    assertThat(c.fleet()).isEqualTo("demo");
    assertThat(c.broker().tls().keyFile()).hasToString("tls/device.key");
    // the server half stays on the server: the device validates and runs the head alone
    assertThat(names).noneMatch(n -> n.endsWith("tail.onnx") || n.endsWith("full.onnx") || n.contains("/eval/"));
    assertThat(new ModelRegistry(x.resolve(c.modelsDir())).loadHead(c.model()).manifest().eval()).isNull();
    assertThat(new DeviceProfiles(x.resolve(c.profilesDir())).load(c.profile()).name()).isEqualTo("jetson-orin-nano-8gb");
    assertThat(Files.readString(x.resolve("systemd/splitrt-edge.service")))
        .contains("ExecStart=/usr/local/bin/splitrt edge --config /opt/splitrt/current/config/edge.yaml", "Restart=on-failure",
            "NoNewPrivileges=true", "ProtectSystem=strict", "WorkingDirectory=/opt/splitrt/current", "Environment=ORT_DISABLE_TELEMETRY=1\n",
            "ReadWritePaths=/opt/splitrt/engines /opt/splitrt/cache /opt/splitrt/state\n");
    // The spool is on, outside the versioned install (it survives upgrades and rollbacks), writable under ProtectSystem=strict.
    assertThat(c.stateDirectory()).isEqualTo(Path.of("/opt/splitrt/state"));
    assertThat(c.deliverySpool().settings().dir()).isEqualTo(Path.of("/opt/splitrt/state/spool"));
    String unit = Files.readString(x.resolve("systemd/splitrt-edge.service"));
    assertUnitCachesAreWritable(unit);
    assertThat(writablePaths(unit)).as("the spool under a ReadWritePaths entry")
        .anyMatch(w -> c.deliverySpool().settings().dir().startsWith(Path.of(w)));
  }

  static List<String> writablePaths(String unit) {
    return unit.lines().filter(l -> l.startsWith("ReadWritePaths=")).flatMap(l -> List.of(l.substring(15).split(" ")).stream()).toList();
  }

  /**
   * Under ProtectSystem=strict and ProtectHome=true the daemon can write only ReadWritePaths: every cache the unit points
   * the runtime at (TensorRT engines, ONNX Runtime natives, JavaCPP) must lie below one of them, and an OutOfMemoryError
   * must end the process so that Restart=on-failure restarts it.
   */
  static void assertUnitCachesAreWritable(String unit) {
    List<String> writable = writablePaths(unit);
    List<String> caches = new ArrayList<>();
    for (String l : unit.lines().toList()) {
      String v = l.startsWith("Environment=") ? l.substring(12).replace("\"", "") : "";
      if (v.startsWith("SPLITRT_ENGINE_CACHE=") || v.startsWith("SPLITRT_NATIVE_CACHE=")) caches.add(v.substring(v.indexOf('=') + 1));
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("-Dorg\\.bytedeco\\.javacpp\\.cachedir=(\\S+)").matcher(v);
      if (m.find()) caches.add(m.group(1));
    }
    assertThat(caches).as("caches named in the unit").hasSize(3);
    for (String c : caches) assertThat(writable).as(c + " under a ReadWritePaths entry").anyMatch(w -> c.equals(w) || c.startsWith(w + "/"));
    assertThat(unit).contains("-XX:+ExitOnOutOfMemoryError");
  }

  @Test
  void installsIdempotentlyAndRollsBack() throws Exception {
    Path root = dir.resolve("root");
    List<String> said = new ArrayList<>();
    BundleInstaller.Installed first = BundleInstaller.install(bundle, root, BundleInstaller.Options.pinned(ca.fingerprint()), said::add);
    assertThat(first.version()).isEqualTo(1);
    assertThat(first.changed()).isTrue();
    assertThat(Files.readSymbolicLink(root.resolve("current"))).hasToString("versions/1");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("current/tls/device.key")))).isEqualTo("rw-------");
    assertThat(said).anySatisfy(s -> assertThat(s).contains("first install: the bundle's fleet CA matches the pinned fingerprint"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("state")))).as("the spool's folder")
        .isEqualTo("rwx------");

    BundleInstaller.Installed again = BundleInstaller.install(bundle, root, BundleInstaller.Options.defaults(), said::add);
    assertThat(again.changed()).isFalse();
    assertThat(again.version()).isEqualTo(1);

    Path second = DeviceBundle.build(ca, DeviceBundle.Spec.of("cam-01", "fs-bottlefit-cls", "x86-64-cpu", "mqtts://broker.example:8883",
        REPO.resolve("models"), REPO.resolve("device-profiles")), dir.resolve("out2")).bundle();
    assertThat(BundleInstaller.install(second, root, BundleInstaller.Options.defaults(), said::add).version()).isEqualTo(2);
    assertThat(EdgeConfig.read(root.resolve("current/config/edge.yaml")).profile()).isEqualTo("x86-64-cpu");
    assertThat(BundleInstaller.rollback(root).version()).isEqualTo(1);
    assertThat(EdgeConfig.read(root.resolve("current/config/edge.yaml")).profile()).isEqualTo("jetson-orin-nano-8gb");
    assertThatThrownBy(() -> BundleInstaller.rollback(root)).hasMessageContaining("nothing to roll back to");
  }

  @Test
  void aTamperedBundleIsRefusedNamingTheFileAndNothingIsInstalled() throws Exception {
    List<Tar.Extracted> files = Tar.extract(bundle, Files.createDirectories(dir.resolve("t")));
    List<Tar.Entry> entries = new ArrayList<>();
    for (Tar.Extracted f : files) {
      byte[] data = Files.readAllBytes(f.path());
      if (f.name().equals("config/edge.yaml")) data = new String(data, StandardCharsets.UTF_8).replace("broker.example", "evil.example").getBytes(StandardCharsets.UTF_8);
      entries.add(new Tar.Entry(f.name(), f.mode(), data));
    }
    Path tampered = dir.resolve("tampered.tar.gz");
    Tar.write(tampered, entries, 0);
    Path root = dir.resolve("root");
    assertThatThrownBy(() -> BundleInstaller.install(tampered, root, BundleInstaller.Options.pinned(ca.fingerprint()), s -> { }))
        .isInstanceOf(ProvisionException.class)
        .hasMessageContaining("config/edge.yaml does not match its SHA-256")
        .hasMessageContaining("nothing installed");
    assertThat(root.resolve("current")).doesNotExist();
    assertThat(root.resolve("versions")).doesNotExist();
    try (var s = Files.list(root)) {
      assertThat(s.toList()).as("staging cleaned up").isEmpty();
    }
  }

  @Test
  void aRewrittenManifestFailsTheCaSignatureAndAForeignCaIsRefusedAfterTheFirstInstall() throws Exception {
    List<Tar.Extracted> files = Tar.extract(bundle, Files.createDirectories(dir.resolve("t")));
    List<Tar.Entry> entries = new ArrayList<>();
    StringBuilder manifest = new StringBuilder();
    for (Tar.Extracted f : files) {
      byte[] data = Files.readAllBytes(f.path());
      if (f.name().equals("systemd/splitrt-edge.service")) data = "[Service]\nExecStart=/bin/sh -c evil\n".getBytes(StandardCharsets.UTF_8);
      if (f.name().startsWith("MANIFEST")) continue;
      manifest.append(Pki.sha256(data)).append("  ").append(f.name()).append('\n');
      entries.add(new Tar.Entry(f.name(), f.mode(), data));
    }
    entries.add(new Tar.Entry("MANIFEST.sha256", 0644, manifest.toString().getBytes(StandardCharsets.UTF_8)));
    entries.add(new Tar.Entry("MANIFEST.sha256.sig", 0644, Files.readAllBytes(dir.resolve("t/MANIFEST.sha256.sig"))));
    Path forged = dir.resolve("forged.tar.gz");
    Tar.write(forged, entries, 0);
    assertThatThrownBy(() -> BundleInstaller.install(forged, dir.resolve("root"), BundleInstaller.Options.pinned(ca.fingerprint()), s -> { }))
        .hasMessageContaining("not signed by the fleet CA");

    BundleInstaller.install(bundle, dir.resolve("root"), BundleInstaller.Options.pinned(ca.fingerprint()), s -> { });
    FleetCa other = FleetCa.init(dir.resolve("other"), "demo", Duration.ofDays(3650));
    Path foreign = DeviceBundle.build(other, DeviceBundle.Spec.of("cam-01", "fs-bottlefit-cls", "x86-64-cpu", "mqtts://b:8883",
        REPO.resolve("models"), REPO.resolve("device-profiles")), dir.resolve("out3")).bundle();
    assertThatThrownBy(() -> BundleInstaller.install(foreign, dir.resolve("root"), BundleInstaller.Options.defaults(), s -> { }))
        .hasMessageContaining("is a different CA");
  }

  /**
   * Issue 12 item 5: a first install without a pinned CA is refused with how to pin it; a bundle signed
   * by another CA is refused against the pin; trust on first use only with its explicit flag.
   */
  @Test
  void aFirstInstallNeedsThePinnedFleetCaOrTheExplicitTrustOnFirstUseFlag() throws Exception {
    Path root = dir.resolve("pin-root");
    assertThatThrownBy(() -> BundleInstaller.install(bundle, root, BundleInstaller.Options.defaults(), s -> { }))
        .isInstanceOf(ProvisionException.class)
        .hasMessageContaining("no fleet CA is pinned").hasMessageContaining("--ca-fingerprint SHA256:").hasMessageContaining("--trust-ca FILE")
        .hasMessageContaining("Nothing installed");
    assertThat(root.resolve("current")).doesNotExist();

    FleetCa other = FleetCa.init(dir.resolve("other-pin"), "demo", Duration.ofDays(3650));
    Path foreign = DeviceBundle.build(other, DeviceBundle.Spec.of("cam-01", "fs-bottlefit-cls", "x86-64-cpu", "mqtts://b:8883",
        REPO.resolve("models"), REPO.resolve("device-profiles")), dir.resolve("out-pin")).bundle();
    assertThatThrownBy(() -> BundleInstaller.install(foreign, root, BundleInstaller.Options.pinned(ca.fingerprint()), s -> { }))
        .hasMessageContaining("is not the pinned fleet CA");
    assertThatThrownBy(() -> BundleInstaller.install(bundle, root, BundleInstaller.Options.pinned("SHA256:12ab"), s -> { }))
        .hasMessageContaining("is not a SHA-256 fingerprint");
    String colons = ca.fingerprint().substring(7).toUpperCase().replaceAll("(..)(?!$)", "$1:");
    assertThat(BundleInstaller.install(bundle, root, BundleInstaller.Options.pinned("sha256:" + colons), s -> { }).version()).isEqualTo(1);

    List<String> said = new ArrayList<>();
    BundleInstaller.install(foreign, dir.resolve("tofu-root"), new BundleInstaller.Options(null, false, null, null, true), said::add);
    assertThat(said).anySatisfy(s -> assertThat(s).contains("trusting the bundle's fleet CA on first use (--trust-on-first-use)"));
  }

  @Test
  void theReaderRefusesEntriesThatClimbOutOfTheBundle() throws Exception {
    assertThatThrownBy(() -> Tar.checkName("../etc/passwd")).hasMessageContaining("climbs out");
    assertThatThrownBy(() -> Tar.checkName("/etc/passwd")).hasMessageContaining("not a safe relative path");
    Path evil = dir.resolve("evil.tar.gz");
    Tar.write(evil, List.of(new Tar.Entry("a/b", 0644, new byte[3])), 0);
    byte[] raw = Files.readAllBytes(evil);
    assertThat(raw.length).isPositive();
    assertThat(Tar.extract(evil, Files.createDirectories(dir.resolve("e")))).extracting(Tar.Extracted::name).containsExactly("a/b");
  }

  /** The learned codec's device needs its entropy tables (the encoder's half of the codec), and still no tail. */
  @Test
  void aLearnedCodecBundleCarriesItsEntropyTablesAndNoServerGraph() throws Exception {
    DeviceBundle.Spec spec = DeviceBundle.Spec.of("cam-02", "fs-entropic-cls-l1", "jetson-orin-nano-8gb", "mqtts://broker.example:8883",
        REPO.resolve("models"), REPO.resolve("device-profiles"));
    Path b = DeviceBundle.build(ca, spec, dir.resolve("out2")).bundle();
    Path x = Files.createDirectories(dir.resolve("x2"));
    List<String> names = Tar.extract(b, x).stream().map(Tar.Extracted::name).toList();
    assertThat(names).contains("models/fs-entropic-cls-l1/head.onnx", "models/fs-entropic-cls-l1/entropy.json")
        .noneMatch(n -> n.endsWith(".onnx") && !n.endsWith("/head.onnx"));
    assertThat(new ModelRegistry(x.resolve("models")).loadHead("fs-entropic-cls-l1").entropyTables().channels()).isEqualTo(8);
  }

  @Test
  void refusesAPlainTextBroker() {
    assertThatThrownBy(() -> DeviceBundle.build(ca, DeviceBundle.Spec.of("cam-02", "fs-bottlefit-cls", "x86-64-cpu", "tcp://b:1883",
        REPO.resolve("models"), REPO.resolve("device-profiles")), dir.resolve("o"))).hasMessageContaining("mutual TLS");
  }
}

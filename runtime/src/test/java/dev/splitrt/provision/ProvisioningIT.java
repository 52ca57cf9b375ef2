package dev.splitrt.provision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.PublishRejectedException;
import dev.splitrt.transport.Topics;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Provisioning against Debian's Mosquitto with a mutual-TLS listener, the generated ACL and CRL,
 * and a real tail runner (fs-bottlefit-cls on ONNX Runtime) holding its own certificate.
 */
class ProvisioningIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "plant7";
  private static final String MODEL = "fs-bottlefit-cls";

  @TempDir static Path dir;
  static FleetCa ca;
  static FleetCa.Issued server;
  static Mosquitto broker;
  static MqttLink tailLink;
  static TailRunner tail;
  static LoadedModel model;
  static Path cam01;
  static ListAppender<ILoggingEvent> logs;

  @BeforeAll
  static void fleet() throws Exception {
    Mosquitto.assumeAvailable();
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    ca = FleetCa.init(dir.resolve("ca"), FLEET, FleetCa.DEFAULT_CA_VALIDITY);
    server = ca.issue(FleetCa.Role.BROKER, "broker", List.of("127.0.0.1", "localhost"), Duration.ofDays(2), dir.resolve("ca/broker"));
    FleetCa.Issued tailCert = ca.issue(FleetCa.Role.TAIL, "tail-1", List.of(), Duration.ofDays(2), dir.resolve("tail"));
    broker = startBroker("mq");
    model = new ModelRegistry(REPO.resolve("models")).load(MODEL);
    tailLink = MqttLink.start(tls(broker, "tail-1", new MqttSettings.Tls(ca.caCertFile(), tailCert.certFile(), tailCert.keyFile())), null);
    tail = TailRunner.start(new TailRunner.Settings(FLEET, "tails", "tail-1", 1, 0, false, 16), List.of(model),
        Backends.byName("onnxruntime").orElseThrow(), tailLink, new MetricsRegistry());
    assertThat(tailLink.awaitConnected(Duration.ofSeconds(10))).as("tail connects with its certificate:\n%s", broker.log()).isTrue();
    cam01 = provision("cam-01", broker);
  }

  @AfterAll
  static void stop() throws Exception {
    if (tail != null) tail.close();
    if (tailLink != null) tailLink.close();
    if (broker != null) broker.close();
    if (logs == null) return;
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    nothingSecretWasLogged();
  }

  /** Every private key body made during the suite (CA, broker, tail, devices) must be absent from every log event. */
  static void nothingSecretWasLogged() throws Exception {
    List<String> secrets = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(f -> f.toString().endsWith(".key") && Files.isRegularFile(f)).toList()) {
        String pem = Files.readString(p);
        secrets.add(pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "").substring(0, 40));
      }
    }
    assertThat(secrets).hasSizeGreaterThanOrEqualTo(4);
    assertThat(logs.list).as("log events captured").isNotEmpty();
    for (ILoggingEvent e : logs.list) {
      String text = e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy()));
      assertThat(text).doesNotContain("PRIVATE KEY");
      for (String secret : secrets) assertThat(text.replaceAll("\\s", "")).doesNotContain(secret);
    }
  }

  static Mosquitto startBroker(String name) throws Exception {
    return Mosquitto.startTls(dir.resolve(name), ca.caCertFile(), server.certFile(), server.keyFile(), true,
        ca.mosquittoAuthLines().toArray(new String[0]));
  }

  static MqttSettings tls(Mosquitto m, String clientId, MqttSettings.Tls tls) {
    MqttSettings d = MqttSettings.defaults(m.url(), clientId);
    return new MqttSettings(m.url().replace("ssl://", "mqtts://"), clientId, null, null, tls, 10, Duration.ofMillis(100),
        Duration.ofMillis(500), d.maxInflight(), d.outboxBytes());
  }

  /** provision device + install, as an operator and a device would; returns ROOT/current. */
  static Path provision(String id, Mosquitto m) throws Exception {
    DeviceBundle.Spec spec = DeviceBundle.Spec.of(id, MODEL, "x86-64-cpu", m.url().replace("ssl://", "mqtts://"), REPO.resolve("models"),
        REPO.resolve("device-profiles")).withSource("models/" + MODEL + "/demo.avi");
    DeviceBundle.Built b = DeviceBundle.build(ca, spec, dir.resolve("out"));
    Path root = dir.resolve("device-" + id);
    BundleInstaller.install(b.bundle(), root, BundleInstaller.Options.defaults(), msg -> { });
    return root.resolve("current");
  }

  @Test
  void aProvisionedDevicePublishesFeaturesAndReceivesItsResultOverMutualTls() throws Exception {
    long before = tail.stats().published();
    DeviceCheck.Report r = DeviceCheck.run(cam01, Duration.ofSeconds(20));
    assertThat(r.outcome()).as("%s\n%s\nbroker log:\n%s", r.detail(), r.steps(), broker.log()).isEqualTo(DeviceCheck.Outcome.OK);
    assertThat(r.roundTripMillis()).isBetween(0L, 20_000L);
    assertThat(tail.stats().published()).isGreaterThan(before);
    assertThat(broker.log()).contains("as cam-01-verify").contains("u'cam-01'").doesNotContain("Denied PUBLISH from cam-01-verify");
  }

  @Test
  void publishingOnAnotherDevicesTopicIsRefusedWithNotAuthorized() throws Exception {
    MqttSettings.Tls own = new MqttSettings.Tls(cam01.resolve("tls/ca.pem"), cam01.resolve("tls/device.pem"), cam01.resolve("tls/device.key"));
    try (MqttLink link = MqttLink.start(tls(broker, "cam-01-test", own), null)) {
      assertThat(link.awaitConnected(Duration.ofSeconds(10))).isTrue();
      link.publish(Topics.status(FLEET, "cam-01"), "{}".getBytes(), 1, false).get(5, TimeUnit.SECONDS);
      assertThatThrownBy(() -> link.publish(Topics.features(FLEET, "cam-02", MODEL), new byte[16], 1, false).get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause().isInstanceOf(PublishRejectedException.class)
          .satisfies(e -> assertThat(((PublishRejectedException) e).reasonCode()).isEqualTo(0x87));
      assertThatThrownBy(() -> link.publish(Topics.deadLetter(FLEET), new byte[16], 1, false).get(5, TimeUnit.SECONDS))
          .cause().isInstanceOf(PublishRejectedException.class);
    }
  }

  @Test
  void aDeviceReceivesOnlyItsOwnResults() throws Exception {
    MqttSettings.Tls own = new MqttSettings.Tls(cam01.resolve("tls/ca.pem"), cam01.resolve("tls/device.pem"), cam01.resolve("tls/device.key"));
    java.util.concurrent.ConcurrentLinkedQueue<String> got = new java.util.concurrent.ConcurrentLinkedQueue<>();
    try (MqttLink link = MqttLink.start(tls(broker, "cam-01-snoop", own), null)) {
      // Mosquitto 2.0 grants the SUBSCRIBE and applies the read ACL to each message it would deliver.
      link.subscribe(Topics.results(FLEET, "cam-02", MODEL), 1, (t, p) -> got.add(t));
      link.subscribe(Topics.results(FLEET, "cam-01", MODEL), 1, (t, p) -> got.add(t));
      assertThat(link.awaitConnected(Duration.ofSeconds(10))).isTrue();
      tailLink.publish(Topics.results(FLEET, "cam-02", MODEL), "{\"sequence\":-1}".getBytes(), 1, false).get(5, TimeUnit.SECONDS);
      tailLink.publish(Topics.results(FLEET, "cam-01", MODEL), "{\"sequence\":-1}".getBytes(), 1, false).get(5, TimeUnit.SECONDS);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !got.isEmpty());
      Thread.sleep(300);
    }
    assertThat(got).containsExactly(Topics.results(FLEET, "cam-01", MODEL));
  }

  @Test
  void aClientWithoutACertificateIsRefusedInTheHandshake() {
    BrokerProbe.Result r = BrokerProbe.run(broker.url(), ca.caCertFile(), null, null, "anonymous", List.of(), 5000);
    assertThat(r.stage()).as(r.detail()).isEqualTo(BrokerProbe.Stage.TLS_REFUSED);
    assertThat(r.refusal()).as(r.detail()).isEqualTo(TlsRefusal.NO_CERTIFICATE);
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    FleetCa other = FleetCa.init(dir.resolve("other-ca"), FLEET, Duration.ofDays(10));
    FleetCa.Issued forged = other.issue(FleetCa.Role.DEVICE, "cam-01", List.of(), Duration.ofDays(1), dir.resolve("forged"));
    BrokerProbe.Result r = BrokerProbe.run(broker.url(), ca.caCertFile(), forged.certFile(), forged.keyFile(), "cam-01-forged", List.of(), 5000);
    assertThat(r.stage()).as(r.detail()).isEqualTo(BrokerProbe.Stage.TLS_REFUSED);
    assertThat(r.detail()).containsIgnoringCase("unknown_ca");
    assertThat(r.refusal()).isEqualTo(TlsRefusal.UNKNOWN_CA);

    // The same device installed from the other CA's bundle: verify names the CA problem.
    Path installed = dir.resolve("device-cam-01").resolve("current");
    Path copy = Files.createDirectories(dir.resolve("foreign-install"));
    copyTree(installed.toRealPath(), copy);
    Files.copy(other.caCertFile(), copy.resolve("tls/ca.pem"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(forged.certFile(), copy.resolve("tls/device.pem"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(forged.keyFile(), copy.resolve("tls/device.key"), StandardCopyOption.REPLACE_EXISTING);
    DeviceCheck.Report report = DeviceCheck.run(copy, Duration.ofSeconds(2));
    assertThat(report.outcome()).as(report.detail()).isEqualTo(DeviceCheck.Outcome.BROKER_UNTRUSTED);
    assertThat(report.detail()).contains("not trusted");
  }

  @Test
  void anExpiredCertificateIsRefused() throws Exception {
    Instant now = Instant.now();
    FleetCa.Issued old = ca.issue(FleetCa.Role.DEVICE, "cam-expired", List.of(), now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)),
        dir.resolve("expired"));
    BrokerProbe.Result r = BrokerProbe.run(broker.url(), ca.caCertFile(), old.certFile(), old.keyFile(), "cam-expired", List.of(), 5000);
    assertThat(r.stage()).as(r.detail()).isEqualTo(BrokerProbe.Stage.TLS_REFUSED);
    assertThat(r.detail()).containsIgnoringCase("expired");
    assertThat(r.refusal()).as(r.detail()).isEqualTo(TlsRefusal.EXPIRED);

    Path install = Files.createDirectories(dir.resolve("expired-install"));
    copyTree(cam01.toRealPath(), install);
    String cfg = Files.readString(install.resolve("config/edge.yaml")).replace("cam-01", "cam-expired");
    Files.writeString(install.resolve("config/edge.yaml"), cfg);
    Files.copy(old.certFile(), install.resolve("tls/device.pem"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(old.keyFile(), install.resolve("tls/device.key"), StandardCopyOption.REPLACE_EXISTING);
    DeviceCheck.Report report = DeviceCheck.run(install, Duration.ofSeconds(2));
    assertThat(report.outcome()).as(report.detail()).isEqualTo(DeviceCheck.Outcome.TLS_REFUSED);
    assertThat(report.detail()).contains("expired at");
  }

  /**
   * After revoke + SIGHUP the revoked device must not get in: checked first by its own MQTT client (no
   * CONNACK within 3 s, the broker logs no new connection of that user), then by 'verify', whose
   * diagnosis must name the revocation whatever the TLS 1.3 timing (issue 10 item 2).
   */
  @Test
  void aRevokedCertificateIsRefusedAfterSighupWithoutRestartingTheBroker() throws Exception {
    try (Mosquitto own = startBroker("mq-revoke")) {
      Path dev = provision("cam-lost", own);
      DeviceCheck.Report before = DeviceCheck.run(dev, Duration.ofSeconds(2));
      assertThat(before.outcome()).as("no tail on this broker: %s", before.detail()).isEqualTo(DeviceCheck.Outcome.NO_TAIL);
      assertThat(before.detail()).contains("no tail runner serves fleet " + FLEET);

      List<java.math.BigInteger> serials = ca.revoke("cam-lost");
      assertThat(serials).hasSize(1);
      assertThat(ca.isRevoked(Pki.readCert(dev.resolve("tls/device.pem")))).isTrue();
      hangUp("mq-revoke");
      int logAfterHup = own.log().length();
      MqttSettings.Tls lost = new MqttSettings.Tls(dev.resolve("tls/ca.pem"), dev.resolve("tls/device.pem"), dev.resolve("tls/device.key"));
      try (MqttLink link = MqttLink.start(tls(own, "cam-lost-retry", lost), null)) {
        assertThat(link.awaitConnected(Duration.ofSeconds(3))).as("a revoked device got in:\n%s", own.log()).isFalse();
      }
      assertThat(own.log().substring(logAfterHup)).as("broker log after SIGHUP").doesNotContain("u'cam-lost'");

      DeviceCheck.Report after = DeviceCheck.run(dev, Duration.ofSeconds(2));
      System.out.println("revoked device diagnosis: " + after.outcome() + " " + after.refusal() + ": " + after.detail());
      assertThat(after.outcome()).as(after.detail()).isEqualTo(DeviceCheck.Outcome.TLS_REFUSED);
      assertThat(after.refusal()).as(after.detail()).isEqualTo(TlsRefusal.REVOKED);
      assertThat(after.detail()).contains("certificate_revoked");
      DeviceCheck.Report others = DeviceCheck.run(cam01, Duration.ofSeconds(20));
      assertThat(others.outcome()).as("other devices are unaffected: %s", others.detail()).isEqualTo(DeviceCheck.Outcome.OK);
    }
  }

  @Test
  void featuresFromADifferentHeadAreDiagnosedAsAModelMismatch() throws Exception {
    try (Mosquitto own = startBroker("mq-mismatch")) {
      FleetCa.Issued t2 = ca.issue(FleetCa.Role.TAIL, "tail-old", List.of(), Duration.ofDays(1), dir.resolve("tail-old"));
      hangUp("mq-mismatch");
      ModelManifest.Part h = model.manifest().head();
      LoadedModel older = new LoadedModel(withHead(model.manifest(), new ModelManifest.Part(h.file(), "0".repeat(64), h.input(), h.output())),
          model.dir());
      try (MqttLink link = MqttLink.start(tls(own, "tail-old", new MqttSettings.Tls(ca.caCertFile(), t2.certFile(), t2.keyFile())), null);
           TailRunner oldTail = TailRunner.start(new TailRunner.Settings(FLEET, "tails", "tail-old", 1, 0, false, 4), List.of(older),
               Backends.byName("onnxruntime").orElseThrow(), link, new MetricsRegistry())) {
        assertThat(link.awaitConnected(Duration.ofSeconds(10))).isTrue();
        Path dev = provision("cam-mm", own);
        DeviceCheck.Report r = DeviceCheck.run(dev, Duration.ofSeconds(10));
        assertThat(r.outcome()).as(r.detail()).isEqualTo(DeviceCheck.Outcome.MODEL_MISMATCH);
        assertThat(r.detail()).contains("head_mismatch");
      }
    }
  }

  @Test
  void installedWorldReadableFilesHoldNoSecret() throws Exception {
    try (Stream<Path> s = Files.walk(cam01.toRealPath())) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        boolean worldReadable = Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_READ);
        if (p.getFileName().toString().equals("device.key")) {
          assertThat(Files.getPosixFilePermissions(p)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        } else if (worldReadable && !p.toString().endsWith(".onnx") && !p.toString().endsWith(".f32") && !p.toString().endsWith(".png")) {
          assertThat(Files.readString(p)).as(p.toString()).doesNotContain("PRIVATE KEY");
        }
      }
    }
    assertThat(Files.getPosixFilePermissions(dir.resolve("ca/ca.key")))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
  }

  /** SIGHUP to the test broker started in {@code dir/name}: Mosquitto 2.0 re-reads its ACL and CRL without dropping clients. */
  static void hangUp(String name) throws Exception {
    String conf = dir.resolve(name).resolve("mosquitto.conf").toString();
    ProcessHandle mq = ProcessHandle.current().descendants()
        .filter(ph -> ph.info().commandLine().orElse("").contains(conf)).findFirst().orElseThrow();
    assertThat(new ProcessBuilder("kill", "-HUP", String.valueOf(mq.pid())).start().waitFor()).isZero();
    Path log = dir.resolve(name).resolve("mosquitto.log");
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(log).contains("Reloading config"));
    Thread.sleep(200);
  }

  static ModelManifest withHead(ModelManifest m, ModelManifest.Part head) throws Exception {
    RecordComponent[] rc = ModelManifest.class.getRecordComponents();
    Object[] values = new Object[rc.length];
    Class<?>[] types = new Class<?>[rc.length];
    for (int i = 0; i < rc.length; i++) {
      types[i] = rc[i].getType();
      values[i] = rc[i].getName().equals("head") ? head : rc[i].getAccessor().invoke(m);
    }
    return ModelManifest.class.getDeclaredConstructor(types).newInstance(values);
  }

  static void copyTree(Path from, Path to) throws Exception {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(t);
        else Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }
}

package dev.splitrt.provision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FleetCaTest {
  @TempDir Path dir;

  @Test
  void caKeyIsOwnerOnlyAndTheCaIsAnEcP256AuthorityForTenYears() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", FleetCa.DEFAULT_CA_VALIDITY);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca/ca.key")))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca")))).isEqualTo("rwx------");
    X509Certificate c = ca.certificate();
    assertThat(((ECPublicKey) c.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    assertThat(c.getBasicConstraints()).isEqualTo(0);
    assertThat(c.getKeyUsage()[5]).as("keyCertSign").isTrue();
    assertThat(Duration.between(c.getNotBefore().toInstant(), c.getNotAfter().toInstant()).toDays()).isBetween(3650L, 3651L);
    assertThat(Files.readString(ca.caCertFile())).doesNotContain("PRIVATE KEY");
    assertThatThrownBy(() -> FleetCa.init(dir.resolve("ca"), "demo", FleetCa.DEFAULT_CA_VALIDITY))
        .isInstanceOf(ProvisionException.class).hasMessageContaining("already holds a CA");
  }

  @Test
  void deviceCertificatesNameTheDeviceAreClientAuthBoundedAndHaveUniqueSerials() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", FleetCa.DEFAULT_CA_VALIDITY);
    Set<BigInteger> serials = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      FleetCa.Issued d = ca.issue(FleetCa.Role.DEVICE, "cam-" + i, List.of(), FleetCa.DEFAULT_LEAF_VALIDITY, dir.resolve("out"));
      X509Certificate c = Pki.readCert(d.certFile());
      assertThat(Pki.commonName(c)).isEqualTo("cam-" + i);
      assertThat(c.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
      assertThat(c.getKeyUsage()[0]).as("digitalSignature").isTrue();
      assertThat(c.getBasicConstraints()).isEqualTo(-1);
      String urn = "urn:splitrt:demo:device:cam-" + i;
      assertThat(c.getSubjectAlternativeNames()).anySatisfy(san -> assertThat(san.get(1)).isEqualTo(urn));
      assertThat(Duration.between(Instant.now(), c.getNotAfter().toInstant()).toDays()).isBetween(364L, 365L);
      c.verify(ca.certificate().getPublicKey());
      assertThat(c.getSerialNumber().bitLength()).isGreaterThan(100);
      assertThat(serials.add(c.getSerialNumber())).isTrue();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d.keyFile()))).isEqualTo("rw-------");
    }
  }

  @Test
  void refusesReservedClashingAndOverlongIdentities() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(30));
    assertThatThrownBy(() -> ca.issue(FleetCa.Role.DEVICE, "deadletter", List.of(), Duration.ofDays(1), dir))
        .hasMessageContaining("reserved");
    assertThatThrownBy(() -> ca.issue(FleetCa.Role.DEVICE, "cam/+", List.of(), Duration.ofDays(1), dir)).hasMessageContaining("must match");
    assertThatThrownBy(() -> ca.issue(FleetCa.Role.DEVICE, "cam-1", List.of(), Duration.ofDays(60), dir)).hasMessageContaining("outlive the CA");
    ca.issue(FleetCa.Role.TAIL, "tail-1", List.of(), Duration.ofDays(1), dir.resolve("t"));
    assertThatThrownBy(() -> ca.issue(FleetCa.Role.DEVICE, "tail-1", List.of(), Duration.ofDays(1), dir))
        .hasMessageContaining("device and tail ids must differ");
  }

  @Test
  void dynsecGivesEachDeviceItsTwoTopicsAndItsResultsAndTailsTheFleet() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(30));
    ca.issue(FleetCa.Role.TAIL, "tail-a", List.of(), Duration.ofDays(1), dir.resolve("t"));
    ca.issue(FleetCa.Role.DEVICE, "cam-1", List.of(), Duration.ofDays(1), dir.resolve("d"));
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(ca.dynsecFile()));
    assertThat(json.path("defaultACLAccess").toString())
        .isEqualTo("{\"publishClientSend\":false,\"publishClientReceive\":false,\"subscribe\":false,\"unsubscribe\":true}");
    List<String> clients = new java.util.ArrayList<>();
    json.path("clients").forEach(c -> clients.add(c.path("username").asText() + "=" + c.path("roles").path(0).path("rolename").asText()));
    assertThat(clients).containsExactlyInAnyOrder("splitrt-admin=splitrt-admin", "tail-a=splitrt-tail", "cam-1=splitrt-device-cam-1");
    List<String> device = new java.util.ArrayList<>();
    List<String> tail = new java.util.ArrayList<>();
    json.path("roles").forEach(r -> r.path("acls").forEach(a -> {
      assertThat(a.path("allow").asBoolean()).isTrue();
      String line = a.path("acltype").asText() + " " + a.path("topic").asText();
      if (r.path("rolename").asText().equals("splitrt-device-cam-1")) device.add(line);
      if (r.path("rolename").asText().equals("splitrt-tail")) tail.add(line);
    }));
    assertThat(device).containsExactlyInAnyOrder("publishClientSend splitrt/v1/demo/cam-1/features/+", "publishClientSend splitrt/v1/demo/cam-1/status",
        "publishClientReceive splitrt/v1/demo/cam-1/results/+", "subscribePattern splitrt/v1/demo/cam-1/results/+",
        "publishClientReceive splitrt/v1/demo/deadletter", "subscribeLiteral splitrt/v1/demo/deadletter");
    assertThat(tail).contains("subscribePattern $share/+/splitrt/v1/demo/+/features/+", "publishClientSend splitrt/v1/demo/+/results/+");
    ca.revoke("tail-a");
    ca.revoke("cam-1");
    assertThat(Files.readString(ca.dynsecFile())).doesNotContain("tail-a").doesNotContain("cam-1");
    assertThat(ca.mosquittoConf()).contains("require_certificate true", "use_identity_as_username true", "crlfile ", "plugin_opt_config_file ",
        "max_packet_size 262144", "set_tcp_nodelay true").doesNotContain("acl_file");
  }

  /** Issue 12 item 4: 'ca init --port 18883 --bind-address …' survives every later command that rewrites the broker files. */
  @Test
  void thePortAndAddressGivenAtInitStayThroughTailDeviceRevokeAndRenew() throws Exception {
    FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(30), BrokerSettings.DEFAULTS.withPort(18883).withBindAddress("10.0.0.5"));
    FleetCa ca = FleetCa.open(dir.resolve("ca"));
    assertThat(ca.brokerSettings().port()).isEqualTo(18883);
    ca.issue(FleetCa.Role.TAIL, "tail-a", List.of(), Duration.ofDays(1), dir.resolve("t"));
    ca.issue(FleetCa.Role.DEVICE, "cam-1", List.of(), Duration.ofDays(1), dir.resolve("d"));
    ca.revoke("cam-1");
    ca.renewCrl();
    String conf = Files.readString(ca.mosquittoConfFile());
    assertThat(conf).contains("\nlistener 18883 10.0.0.5\n").doesNotContain("8883\n");
    assertThat(Files.readString(ca.brokerDir().resolve("crl.pem"))).isEqualTo(Files.readString(ca.crlFile()));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.dir()))).as("no broker group: CA folder stays 0700").isEqualTo("rwx------");
  }

  @Test
  void largestLegalFrameOfTheZooFitsTheDefaultPacketLimitWithRoomForChunks() throws Exception {
    var reg = new dev.splitrt.model.ModelRegistry(Path.of(System.getProperty("splitrt.repo")).resolve("models"));
    long largest = 0;
    for (String id : reg.ids()) largest = Math.max(largest, FleetCa.largestFrameBytes(reg.load(id).manifest()));
    System.out.println("largest legal FeatureFrame of the zoo: " + largest + " bytes; default max_packet_size " + BrokerSettings.DEFAULT_MAX_PACKET_BYTES);
    assertThat(largest).isBetween(10_000L, 20_000L);
    assertThat((long) BrokerSettings.DEFAULT_MAX_PACKET_BYTES).isGreaterThan(4 * largest);
  }

  @Test
  void revokeAddsEverySerialOfTheIdToTheSignedCrl() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(30));
    FleetCa.Issued a = ca.issue(FleetCa.Role.DEVICE, "cam-1", List.of(), Duration.ofDays(1), dir.resolve("a"));
    FleetCa.Issued b = ca.issue(FleetCa.Role.DEVICE, "cam-1", List.of(), Duration.ofDays(1), dir.resolve("b"));
    FleetCa.Issued other = ca.issue(FleetCa.Role.DEVICE, "cam-2", List.of(), Duration.ofDays(1), dir.resolve("c"));
    assertThat(ca.revoke("cam-1")).containsExactlyInAnyOrder(a.serial(), b.serial());
    var crl = Pki.readCrl(ca.crlFile());
    crl.verify(ca.certificate().getPublicKey());
    assertThat(crl.getNextUpdate().toInstant()).isAfter(Instant.now().plus(Duration.ofDays(300)));
    assertThat(ca.isRevoked(Pki.readCert(a.certFile()))).isTrue();
    assertThat(ca.isRevoked(Pki.readCert(other.certFile()))).isFalse();
    assertThatThrownBy(() -> ca.revoke("cam-1")).hasMessageContaining("already revoked");
    assertThatThrownBy(() -> ca.revoke("nobody")).hasMessageContaining("no certificate was issued to 'nobody'");
    ca.renewCrl();
    assertThat(ca.revokedSerials()).containsExactlyInAnyOrder(a.serial(), b.serial());
  }
}

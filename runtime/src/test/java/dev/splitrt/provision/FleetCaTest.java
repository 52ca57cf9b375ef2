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
  void aclLetsDevicesWriteOnlyTheirSubtreeAndGrantsTailsTheFleet() throws Exception {
    FleetCa ca = FleetCa.init(dir.resolve("ca"), "demo", Duration.ofDays(30));
    ca.issue(FleetCa.Role.TAIL, "tail-a", List.of(), Duration.ofDays(1), dir.resolve("t"));
    String acl = Files.readString(ca.aclFile());
    assertThat(acl).contains("pattern write splitrt/v1/demo/%u/#\n", "pattern read splitrt/v1/demo/%u/results/#\n",
        "user tail-a\ntopic read splitrt/v1/demo/+/features/+\ntopic write splitrt/v1/demo/+/results/+\ntopic write splitrt/v1/demo/deadletter\n");
    assertThat(acl).doesNotContain("readwrite").doesNotContain("topic write splitrt/v1/demo/#");
    ca.revoke("tail-a");
    assertThat(Files.readString(ca.aclFile())).doesNotContain("user tail-a");
    assertThat(ca.mosquittoConf(8883)).contains("require_certificate true", "set_tcp_nodelay true", "use_identity_as_username true", "crlfile ", "acl_file ");
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

package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.testsupport.TestCerts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {
  @TempDir static Path dir;
  static TestCerts certs;

  @BeforeAll
  static void pki() throws IOException {
    TestCerts.assumeOpenssl();
    certs = TestCerts.generate(dir.resolve("pki"));
  }

  @Test
  void loadsPkcs8EcAndRsaKeys() throws IOException {
    assertThat(Pem.privateKey(TestCerts.key(dir, "ec.key", "EC")).getAlgorithm()).isEqualTo("EC");
    assertThat(Pem.privateKey(TestCerts.key(dir, "rsa.key", "RSA")).getAlgorithm()).isEqualTo("RSA");
  }

  @Test
  void buildsASocketFactoryFromCaCertAndKey() throws IOException {
    assertThat(Pem.socketFactory(new MqttSettings.Tls(certs.caCert(), certs.clientCert(), certs.clientKey()))).isNotNull();
    assertThat(Pem.socketFactory(new MqttSettings.Tls(certs.caCert(), null, null))).isNotNull();
    assertThat(Pem.socketFactory(null)).isNotNull();
    assertThat(Pem.certificates(certs.clientCert()).get(0).getSubjectX500Principal().getName()).isEqualTo("CN=device-1");
  }

  @Test
  void refusesTraditionalKeysWithTheOpensslFix() throws IOException {
    Path sec1 = dir.resolve("sec1.key");
    TestCerts.openssl(dir, "ec", "-in", certs.clientKey().toString(), "-out", sec1.toString());
    assertThat(Files.readString(sec1)).contains("BEGIN EC PRIVATE KEY");
    assertThatThrownBy(() -> Pem.privateKey(sec1))
        .isInstanceOf(IOException.class).hasMessageContaining("EC PRIVATE KEY").hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
  }

  @Test
  void refusesAKeyThatDoesNotBelongToTheCertificate() {
    assertThatThrownBy(() -> Pem.socketFactory(new MqttSettings.Tls(certs.caCert(), certs.clientCert(), certs.serverKey())))
        .isInstanceOf(IOException.class).hasMessageContaining("is not the private key of the certificate");
  }

  @Test
  void namesMissingAndWrongFiles() throws IOException {
    Path missing = dir.resolve("nope.pem");
    assertThatThrownBy(() -> Pem.certificates(missing)).hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
    Path junk = Files.writeString(dir.resolve("junk.pem"), "hello\n");
    assertThatThrownBy(() -> Pem.privateKey(junk)).hasMessageContaining("no -----BEGIN PRIVATE KEY----- block");
    assertThatThrownBy(() -> Pem.certificates(junk)).hasMessageContaining(junk.toString());
  }

  @Test
  void writesWhatItAndOpensslRead() throws Exception {
    // The writer is the one provisioning uses for keys, certificates and CRLs: what it writes must read back
    // unchanged here and be accepted by openssl, which Mosquitto's TLS is built on.
    var key = Pem.privateKey(certs.clientKey());
    Path keyOut = Files.writeString(dir.resolve("rewritten.key"), Pem.encode(key));
    assertThat(Pem.privateKey(keyOut).getEncoded()).isEqualTo(key.getEncoded());
    TestCerts.openssl(dir, "pkey", "-in", keyOut.toString(), "-noout");
    var cert = Pem.certificates(certs.clientCert()).get(0);
    String certPem = Pem.encode(cert);
    assertThat(certPem).startsWith("-----BEGIN CERTIFICATE-----\n").endsWith("-----END CERTIFICATE-----\n");
    assertThat(certPem.lines().filter(l -> !l.startsWith("-----")).allMatch(l -> l.length() <= 64)).isTrue();
    Path certOut = Files.writeString(dir.resolve("rewritten.pem"), certPem);
    assertThat(Pem.certificates(certOut).get(0)).isEqualTo(cert);
    TestCerts.openssl(dir, "x509", "-in", certOut.toString(), "-noout");
  }

  @Test
  void namesAFileThatIsNotACrl() throws IOException {
    assertThatThrownBy(() -> Pem.crl(certs.clientCert())).isInstanceOf(IOException.class)
        .hasMessageContaining(certs.clientCert().toString()).hasMessageContaining("X509 CRL");
  }
}

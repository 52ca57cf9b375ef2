package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.testsupport.TestCerts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutual TLS against Mosquitto with require_certificate: the device's certificate is its identity. */
class TlsIT {
  @TempDir static Path dir;
  static TestCerts certs;

  @BeforeAll
  static void pki() throws Exception {
    Mosquitto.assumeAvailable();
    TestCerts.assumeOpenssl();
    certs = TestCerts.generate(dir.resolve("pki"));
  }

  private static MqttSettings tls(String url, String id, MqttSettings.Tls tls) {
    MqttSettings f = Inbox.fast(url, id);
    return new MqttSettings(url.replace("ssl://", "mqtts://"), id, null, null, tls, f.keepAliveSeconds(), f.backoffMin(),
        f.backoffMax(), f.maxInflight(), f.outboxBytes());
  }

  @Test
  void clientCertificateConnectsAndPublishes() throws Exception {
    try (Mosquitto m = Mosquitto.startTls(dir.resolve("ok"), certs.caCert(), certs.serverCert(), certs.serverKey(), true);
         MqttLink link = MqttLink.start(tls(m.url(), "device-1",
             new MqttSettings.Tls(certs.caCert(), certs.clientCert(), certs.clientKey())), null)) {
      assertThat(link.awaitConnected(Duration.ofSeconds(10))).as("broker log:\n%s", m.log()).isTrue();
      Inbox inbox = new Inbox();
      String topic = Topics.features("f", "device-1", "m");
      link.subscribe(topic, 1, inbox);
      link.publish(topic, Inbox.payload(42, 100_000), 1, false).get(5, TimeUnit.SECONDS);
      inbox.awaitSize(1, Duration.ofSeconds(5));
      assertThat(inbox.sequences()).containsExactly(42L);
    }
  }

  @Test
  void withoutAClientCertificateTheBrokerRefusesTheConnection() throws Exception {
    try (Mosquitto m = Mosquitto.startTls(dir.resolve("nocert"), certs.caCert(), certs.serverCert(), certs.serverKey(), true);
         MqttLink link = MqttLink.start(tls(m.url(), "anonymous", new MqttSettings.Tls(certs.caCert(), null, null)), null)) {
      assertThat(link.awaitConnected(Duration.ofSeconds(2))).isFalse();
      assertThat(m.log()).containsIgnoringCase("certificate");
    }
  }

  @Test
  void anUntrustedBrokerCertificateIsRefused() throws Exception {
    try (Mosquitto m = Mosquitto.startTls(dir.resolve("untrusted"), certs.caCert(), certs.serverCert(), certs.serverKey(), false);
         MqttLink link = MqttLink.start(tls(m.url(), "jvm-trust", null), null)) {
      assertThat(link.awaitConnected(Duration.ofSeconds(2))).as("JVM default trust does not know the test CA").isFalse();
    }
  }
}

package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MqttSettingsTest {

  @Test
  void translatesMqttSchemesToPahosAndFillsDefaultPorts() {
    assertThat(MqttSettings.defaults("mqtt://broker.local", "d1").pahoUrl()).isEqualTo("tcp://broker.local:1883");
    assertThat(MqttSettings.defaults("mqtts://broker.local", "d1").pahoUrl()).isEqualTo("ssl://broker.local:8883");
    assertThat(MqttSettings.defaults("tcp://10.0.0.2:1884", "d1").pahoUrl()).isEqualTo("tcp://10.0.0.2:1884");
    assertThat(MqttSettings.defaults("SSL://h:9999", "d1").pahoUrl()).isEqualTo("ssl://h:9999");
    assertThat(MqttSettings.defaults("mqtts://h", "d1").tlsUrl()).isTrue();
    assertThat(MqttSettings.defaults("mqtt://h", "d1").tlsUrl()).isFalse();
  }

  @Test
  void defaultsAreSane() {
    MqttSettings s = MqttSettings.defaults("tcp://h:1883", "d1");
    assertThat(s.keepAliveSeconds()).isEqualTo(30);
    assertThat(s.backoffMin()).isEqualTo(Duration.ofMillis(500));
    assertThat(s.backoffMax()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.maxInflight()).isEqualTo(32);
    assertThat(s.outboxBytes()).isEqualTo(32L << 20);
    assertThat(s.tls()).isNull();
  }

  @Test
  void rejectsWrongValuesNamingTheFieldAndTheFix() {
    assertThatThrownBy(() -> MqttSettings.defaults("http://h", "d1")).hasMessageContaining("unknown scheme")
        .hasMessageContaining("tcp://, mqtt://, ssl:// or mqtts://");
    assertThatThrownBy(() -> MqttSettings.defaults("tcp://h:1883/path", "d1")).hasMessageContaining("nothing after the port");
    assertThatThrownBy(() -> MqttSettings.defaults("tcp://h", "a b")).hasMessageContaining("clientId 'a b'");
    assertThatThrownBy(() -> MqttSettings.defaults(null, "d")).hasMessageContaining("url is missing");
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, null, null, 30, Duration.ZERO, Duration.ofSeconds(1), 10, 100))
        .hasMessageContaining("backoffMin");
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, null, null, 30, Duration.ofSeconds(2), Duration.ofSeconds(1), 10, 100))
        .hasMessageContaining("backoffMax");
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, null, null, 30, Duration.ofSeconds(1), Duration.ofSeconds(1), 0, 100))
        .hasMessageContaining("maxInflight 0");
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, null, null, 30, Duration.ofSeconds(1), Duration.ofSeconds(1), 1, 0))
        .hasMessageContaining("outboxBytes 0");
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, "secret", null, 30, Duration.ofSeconds(1), Duration.ofSeconds(1), 1, 1))
        .hasMessageContaining("password given without a username");
  }

  @Test
  void tlsFilesNeedATlsUrlAndComeAsCertAndKeyPair() {
    MqttSettings.Tls tls = new MqttSettings.Tls(Path.of("ca.pem"), null, null);
    assertThatThrownBy(() -> new MqttSettings("tcp://h", "d", null, null, tls, 30, Duration.ofSeconds(1), Duration.ofSeconds(1), 1, 1))
        .hasMessageContaining("not a TLS url");
    assertThatThrownBy(() -> new MqttSettings.Tls(Path.of("ca.pem"), Path.of("c.pem"), null))
        .hasMessageContaining("certFile and keyFile go together");
  }
}

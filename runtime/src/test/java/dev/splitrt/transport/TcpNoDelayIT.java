package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.testsupport.TestCerts;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.SocketFactory;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nagle is off on the sockets the link opens, plain and TLS: the test takes the socket factory the
 * link hands to Paho, opens a socket the way Paho does ({@code createSocket()} then {@code connect}),
 * connects it to a real Mosquitto (and completes the TLS handshake), and reads TCP_NODELAY back.
 */
class TcpNoDelayIT {
  @TempDir static Path dir;

  @BeforeAll
  static void tools() {
    Mosquitto.assumeAvailable();
  }

  @Test
  void plainMqttSocketsHaveNagleOff() throws Exception {
    try (Mosquitto m = Mosquitto.start(dir.resolve("plain"));
         MqttLink link = MqttLink.start(Inbox.fast(m.url(), "nodelay-plain"), null)) {
      assertThat(link.awaitConnected(Duration.ofSeconds(10))).isTrue();
      SocketFactory f = link.options().getSocketFactory();
      assertThat(f).isNotNull().isNotInstanceOf(SSLSocketFactory.class);
      try (Socket s = f.createSocket()) {
        s.connect(new InetSocketAddress("127.0.0.1", m.port()), 5_000);
        assertThat(s.getTcpNoDelay()).isTrue();
      }
      // The JDK's default is Nagle on: the check above can fail.
      try (Socket s = SocketFactory.getDefault().createSocket()) {
        s.connect(new InetSocketAddress("127.0.0.1", m.port()), 5_000);
        assertThat(s.getTcpNoDelay()).isFalse();
      }
    }
  }

  @Test
  void tlsMqttSocketsHaveNagleOff() throws Exception {
    TestCerts.assumeOpenssl();
    TestCerts certs = TestCerts.generate(dir.resolve("pki"));
    MqttSettings.Tls tls = new MqttSettings.Tls(certs.caCert(), certs.clientCert(), certs.clientKey());
    try (Mosquitto m = Mosquitto.startTls(dir.resolve("tls"), certs.caCert(), certs.serverCert(), certs.serverKey(), true)) {
      MqttSettings f = Inbox.fast(m.url(), "nodelay-tls");
      MqttSettings s = new MqttSettings(m.url(), "nodelay-tls", null, null, tls, f.keepAliveSeconds(), f.backoffMin(),
          f.backoffMax(), f.maxInflight(), f.outboxBytes());
      try (MqttLink link = MqttLink.start(s, null)) {
        assertThat(link.awaitConnected(Duration.ofSeconds(10))).as("broker log:\n%s", m.log()).isTrue();
        SocketFactory factory = link.options().getSocketFactory();
        assertThat(factory).isInstanceOf(SSLSocketFactory.class);
        try (SSLSocket socket = (SSLSocket) factory.createSocket()) {
          socket.connect(new InetSocketAddress("127.0.0.1", m.port()), 5_000);
          socket.startHandshake();
          assertThat(socket.getSession().isValid()).isTrue();
          assertThat(socket.getTcpNoDelay()).isTrue();
        }
      }
    }
  }
}

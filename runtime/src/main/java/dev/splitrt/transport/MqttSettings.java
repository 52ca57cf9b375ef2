package dev.splitrt.transport;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * Everything an {@link MqttLink} needs to reach a broker, validated at construction so that a wrong
 * value fails where it is configured instead of as an endless reconnect loop.
 *
 * <p>{@code url} is {@code tcp://} or {@code mqtt://} (plain, default port 1883) or {@code ssl://} or
 * {@code mqtts://} (TLS, default port 8883) followed by {@code host[:port]}. {@code username} and
 * {@code password} may be null (anonymous). {@code tls} may be null: with a TLS url the JVM's default
 * trust store then decides and no client certificate is sent. {@code keepAliveSeconds} 0 turns MQTT
 * keep-alive off. {@code maxInflight} bounds the QoS 1 publishes awaiting a PUBACK (the broker's own
 * Receive Maximum lowers it further) and is sent to the broker as our Receive Maximum.
 * {@code outboxBytes} bounds the payload plus topic bytes held in the outbox.
 * {@code stallTimeout}: the link's watchdog recycles a connection that is up, has messages waiting and
 * got no acknowledgement for this long. {@code maxPacketBytes}: a cap on the PUBLISH packets this link
 * sends, below the broker's own Maximum Packet Size (0 = only the broker's). {@code receiveMaxPacketBytes}:
 * the Maximum Packet Size this client announces in CONNECT; the broker then drops (never sends) larger
 * messages to it (0 = none announced).
 */
public record MqttSettings(String url, String clientId, String username, String password, Tls tls,
                           int keepAliveSeconds, Duration backoffMin, Duration backoffMax,
                           int maxInflight, long outboxBytes, long sessionExpirySeconds,
                           Duration stallTimeout, long maxPacketBytes, long receiveMaxPacketBytes) {

  /** Default {@link #stallTimeout}: well above a keep-alive round trip on a slow uplink. */
  public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(30);

  public MqttSettings(String url, String clientId, String username, String password, Tls tls, int keepAliveSeconds,
                      Duration backoffMin, Duration backoffMax, int maxInflight, long outboxBytes, long sessionExpirySeconds) {
    this(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight, outboxBytes,
        sessionExpirySeconds, DEFAULT_STALL_TIMEOUT, 0, 0);
  }

  /** Clean sessions: the broker keeps nothing for this client while it is away. */
  public MqttSettings(String url, String clientId, String username, String password, Tls tls, int keepAliveSeconds,
                      Duration backoffMin, Duration backoffMax, int maxInflight, long outboxBytes) {
    this(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight, outboxBytes, 0);
  }

  /**
   * The same settings with a persistent session: the broker keeps this client's subscriptions and
   * queues its QoS 1 messages for {@code seconds} after a disconnect (a tail runner or a results
   * consumer then misses nothing across a broker restart or its own reconnect, where the broker
   * persists sessions). 0 = clean sessions.
   */
  public MqttSettings withSessionExpiry(long seconds) {
    return new MqttSettings(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight,
        outboxBytes, seconds, stallTimeout, maxPacketBytes, receiveMaxPacketBytes);
  }

  /** The same settings with another watchdog timeout (see {@link #stallTimeout}). */
  public MqttSettings withStallTimeout(Duration timeout) {
    return new MqttSettings(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight,
        outboxBytes, sessionExpirySeconds, timeout, maxPacketBytes, receiveMaxPacketBytes);
  }

  /** The same settings with a cap on the packets this link sends (0 = the broker's Maximum Packet Size only). */
  public MqttSettings withMaxPacketBytes(long bytes) {
    return new MqttSettings(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight,
        outboxBytes, sessionExpirySeconds, stallTimeout, bytes, receiveMaxPacketBytes);
  }

  /** The same settings announcing a Maximum Packet Size in CONNECT (0 = none). */
  public MqttSettings withReceiveMaxPacketBytes(long bytes) {
    return new MqttSettings(url, clientId, username, password, tls, keepAliveSeconds, backoffMin, backoffMax, maxInflight,
        outboxBytes, sessionExpirySeconds, stallTimeout, maxPacketBytes, bytes);
  }

  /**
   * PEM files for TLS. {@code caFile}: one or more CA certificates that sign the broker's certificate
   * (null = the JVM's default trust store). {@code certFile} (certificate chain, leaf first) and
   * {@code keyFile} (unencrypted PKCS#8 {@code BEGIN PRIVATE KEY}, EC or RSA) identify this client;
   * both or neither.
   */
  public record Tls(Path caFile, Path certFile, Path keyFile) {
    public Tls {
      if ((certFile == null) != (keyFile == null)) {
        throw new IllegalArgumentException("tls: certFile and keyFile go together (got certFile=" + certFile
            + ", keyFile=" + keyFile + "); give both for a client certificate or neither");
      }
    }
  }

  public MqttSettings {
    if (url == null || url.isBlank()) {
      throw new IllegalArgumentException("mqtt url is missing; use tcp://host:1883 or ssl://host:8883");
    }
    pahoUri(url);
    if (clientId == null || !clientId.matches("[A-Za-z0-9_.:-]{1,128}")) {
      throw new IllegalArgumentException("mqtt clientId '" + clientId
          + "' is not usable; use 1..128 characters of [A-Za-z0-9_.:-] (e.g. the device id)");
    }
    if (password != null && username == null) {
      throw new IllegalArgumentException("mqtt password given without a username; set both or neither");
    }
    if (tls != null && !isTls(url)) {
      throw new IllegalArgumentException("mqtt tls files are set but url '" + url
          + "' is not a TLS url; use ssl://host:8883 or mqtts://host:8883");
    }
    if (keepAliveSeconds < 0 || keepAliveSeconds > 65535) {
      throw new IllegalArgumentException("mqtt keepAliveSeconds " + keepAliveSeconds + " must be 0..65535");
    }
    if (backoffMin == null || backoffMin.isNegative() || backoffMin.isZero()) {
      throw new IllegalArgumentException("mqtt backoffMin " + backoffMin + " must be > 0 (e.g. PT0.5S)");
    }
    if (backoffMax == null || backoffMax.compareTo(backoffMin) < 0) {
      throw new IllegalArgumentException("mqtt backoffMax " + backoffMax + " must be >= backoffMin " + backoffMin);
    }
    if (maxInflight < 1 || maxInflight > 65535) {
      throw new IllegalArgumentException("mqtt maxInflight " + maxInflight + " must be 1..65535");
    }
    if (sessionExpirySeconds < 0 || sessionExpirySeconds > 0xFFFFFFFFL) {
      throw new IllegalArgumentException("mqtt sessionExpirySeconds " + sessionExpirySeconds + " must be 0..4294967295 (0 = clean sessions)");
    }
    if (stallTimeout == null || stallTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("mqtt stallTimeout " + stallTimeout + " must be >= 1 s (e.g. PT30S)");
    }
    if (maxPacketBytes != 0 && (maxPacketBytes < 256 || maxPacketBytes > 268_435_460L)) {
      throw new IllegalArgumentException("mqtt maxPacketBytes " + maxPacketBytes + " must be 0 (broker's limit only) or 256..268435460");
    }
    if (receiveMaxPacketBytes != 0 && (receiveMaxPacketBytes < 256 || receiveMaxPacketBytes > 268_435_460L)) {
      throw new IllegalArgumentException("mqtt receiveMaxPacketBytes " + receiveMaxPacketBytes
          + " must be 0 (none announced) or 256..268435460");
    }
    if (outboxBytes < 1) {
      throw new IllegalArgumentException("mqtt outboxBytes " + outboxBytes + " must be > 0 (e.g. 33554432 = 32 MiB)");
    }
  }

  /**
   * Keep-alive 30 s, backoff 0.5 s to 30 s, 32 publishes in flight, 32 MiB outbox, anonymous, and
   * for a TLS url the JVM's default trust store.
   */
  public static MqttSettings defaults(String url, String clientId) {
    return new MqttSettings(url, clientId, null, null, null, 30, Duration.ofMillis(500), Duration.ofSeconds(30),
        32, 32L * 1024 * 1024);
  }

  /** Whether the url asks for TLS. */
  boolean tlsUrl() {
    return isTls(url);
  }

  /** The url as Paho spells it: {@code tcp://host:port} or {@code ssl://host:port}. */
  String pahoUrl() {
    return pahoUri(url);
  }

  private static boolean isTls(String url) {
    String u = url.toLowerCase(Locale.ROOT);
    return u.startsWith("ssl://") || u.startsWith("mqtts://");
  }

  private static String pahoUri(String url) {
    URI uri;
    try {
      uri = new URI(url.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("mqtt url '" + url + "' is not a URI (" + e.getMessage()
          + "); use tcp://host:1883 or ssl://host:8883", e);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    String paho;
    int defaultPort;
    switch (scheme) {
      case "tcp", "mqtt" -> { paho = "tcp"; defaultPort = 1883; }
      case "ssl", "mqtts" -> { paho = "ssl"; defaultPort = 8883; }
      default -> throw new IllegalArgumentException("mqtt url '" + url
          + "' has an unknown scheme; use tcp://, mqtt://, ssl:// or mqtts://");
    }
    if (uri.getHost() == null || (uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().equals("/"))) {
      throw new IllegalArgumentException("mqtt url '" + url + "' must be " + scheme + "://host[:port] with nothing after the port");
    }
    int port = uri.getPort() == -1 ? defaultPort : uri.getPort();
    String host = uri.getHost().contains(":") && !uri.getHost().startsWith("[") ? "[" + uri.getHost() + "]" : uri.getHost();
    return paho + "://" + host + ":" + port;
  }
}

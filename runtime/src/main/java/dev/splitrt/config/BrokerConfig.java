package dev.splitrt.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a daemon reaches its MQTT broker ({@code broker:} in edge and tail configs). Only {@code url} is
 * required; the rest default to values that suit a device on a flaky link.
 */
public record BrokerConfig(
    String url,
    String clientId,
    String username,
    String password,
    Tls tls,
    Integer keepAliveSeconds,
    Integer backoffMinMs,
    Integer backoffMaxMs,
    Integer maxInflight,
    Long outboxBytes,
    Long sessionExpirySeconds,
    Integer stallTimeoutSeconds,
    Long maxPacketBytes) {

  /** PEM files for mutual TLS; {@code caFile} alone verifies the broker only. */
  public record Tls(Path caFile, Path certFile, Path keyFile) {}

  public static BrokerConfig of(String url) {
    return new BrokerConfig(url, null, null, null, null, null, null, null, null, null, null, null, null);
  }

  /** Seconds with messages waiting and no acknowledgement before the link recycles its connection (default 30). */
  public int stallTimeout() {
    return stallTimeoutSeconds == null ? 30 : stallTimeoutSeconds;
  }

  /**
   * A cap on the PUBLISH packets sent to this broker, below what its CONNACK announces (0 or absent =
   * the broker's own limit only); e.g. 131072 for cloud brokers that refuse larger messages without
   * saying so in CONNACK.
   */
  public long maxPacket() {
    return maxPacketBytes == null ? 0 : maxPacketBytes;
  }

  public int keepAlive() {
    return keepAliveSeconds == null ? 30 : keepAliveSeconds;
  }

  /**
   * {@code fallback} when not set: edge daemons use 1 s, tail runners 250 ms, so that after a broker
   * restart the tails have resubscribed before the devices resend (a broker such as Mosquitto does
   * not queue shared-subscription messages while no member of the group is connected).
   */
  public int backoffMin(int fallback) {
    return backoffMinMs == null ? fallback : backoffMinMs;
  }

  public int backoffMax() {
    return backoffMaxMs == null ? 30_000 : backoffMaxMs;
  }

  public int inflight() {
    return maxInflight == null ? 32 : maxInflight;
  }

  /** Default 8 MiB: ~1,300 classifier frames or ~650 detector frames kept while the broker is away. */
  public long outbox() {
    return outboxBytes == null ? 8L << 20 : outboxBytes;
  }

  /**
   * Seconds the broker keeps this client's session while it is away (0 = clean sessions); the
   * daemon's role default when not set (0 for edge daemons and tail runners: a tail's persistent session
   * would keep its shared-group share while the tail is dead; see configuration.md).
   */
  public long sessionExpiry(long fallback) {
    return sessionExpirySeconds == null ? fallback : sessionExpirySeconds;
  }

  /** Adds each problem (field named, with the fix) to {@code errors}. */
  void validate(String prefix, List<String> errors) {
    if (url == null || !url.matches("(tcp|mqtt|ssl|mqtts)://[^/:]+(:\\d{1,5})?/?")) {
      errors.add("'" + prefix + "url' is '" + url + "'; use tcp://host:1883, mqtt://host:1883, ssl://host:8883 or mqtts://host:8883");
    }
    if (clientId != null && !clientId.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'" + prefix + "client_id' must match [A-Za-z0-9_.-]{1,64}");
    if (keepAlive() < 1 || keepAlive() > 3600) errors.add("'" + prefix + "keep_alive_seconds' must be 1..3600");
    if (backoffMinMs != null && backoffMinMs < 10) errors.add("'" + prefix + "backoff_min_ms' must be >= 10");
    if (backoffMinMs != null && backoffMax() < backoffMinMs) errors.add("'" + prefix + "backoff_max_ms' must be >= backoff_min_ms");
    if (inflight() < 1 || inflight() > 65535) errors.add("'" + prefix + "max_inflight' must be 1..65535");
    if (outbox() < 64 * 1024) errors.add("'" + prefix + "outbox_bytes' must be >= 65536");
    if (sessionExpirySeconds != null && (sessionExpirySeconds < 0 || sessionExpirySeconds > 0xFFFFFFFFL)) {
      errors.add("'" + prefix + "session_expiry_seconds' must be 0..4294967295 (0 = clean sessions)");
    }
    if (stallTimeout() < 1 || stallTimeout() > 86_400) errors.add("'" + prefix + "stall_timeout_seconds' must be 1..86400");
    if (maxPacket() != 0 && (maxPacket() < 1024 || maxPacket() > 268_435_460L)) {
      errors.add("'" + prefix + "max_packet_bytes' must be 0 (the broker's limit) or 1024..268435460 (e.g. 131072)");
    }
    if (tls != null) {
      if (tls.caFile() == null) errors.add("'" + prefix + "tls.ca_file' is required when 'tls' is given");
      if ((tls.certFile() == null) != (tls.keyFile() == null)) errors.add("'" + prefix + "tls.cert_file' and '" + prefix + "tls.key_file' go together");
      if (url != null && (url.startsWith("tcp:") || url.startsWith("mqtt:"))) errors.add("'" + prefix + "tls' needs an ssl:// or mqtts:// url");
    }
  }

  static void require(List<String> errors, String origin) throws ConfigException {
    if (!errors.isEmpty()) throw new ConfigException(origin + ": " + String.join("; ", errors));
  }

  static List<String> errors() {
    return new ArrayList<>();
  }
}

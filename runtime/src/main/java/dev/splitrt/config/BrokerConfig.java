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
    Long outboxBytes) {

  /** PEM files for mutual TLS; {@code caFile} alone verifies the broker only. */
  public record Tls(Path caFile, Path certFile, Path keyFile) {}

  public static BrokerConfig of(String url) {
    return new BrokerConfig(url, null, null, null, null, null, null, null, null, null);
  }

  public int keepAlive() {
    return keepAliveSeconds == null ? 30 : keepAliveSeconds;
  }

  public int backoffMin() {
    return backoffMinMs == null ? 250 : backoffMinMs;
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

  /** Adds each problem (field named, with the fix) to {@code errors}. */
  void validate(String prefix, List<String> errors) {
    if (url == null || !url.matches("(tcp|mqtt|ssl|mqtts)://[^/:]+(:\\d{1,5})?/?")) {
      errors.add("'" + prefix + "url' is '" + url + "'; use tcp://host:1883, mqtt://host:1883, ssl://host:8883 or mqtts://host:8883");
    }
    if (clientId != null && !clientId.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'" + prefix + "client_id' must match [A-Za-z0-9_.-]{1,64}");
    if (keepAlive() < 1 || keepAlive() > 3600) errors.add("'" + prefix + "keep_alive_seconds' must be 1..3600");
    if (backoffMin() < 10) errors.add("'" + prefix + "backoff_min_ms' must be >= 10");
    if (backoffMax() < backoffMin()) errors.add("'" + prefix + "backoff_max_ms' must be >= backoff_min_ms");
    if (inflight() < 1 || inflight() > 65535) errors.add("'" + prefix + "max_inflight' must be 1..65535");
    if (outbox() < 64 * 1024) errors.add("'" + prefix + "outbox_bytes' must be >= 65536");
    if (tls != null) {
      if (tls.caFile() == null) errors.add("'" + prefix + "tls.ca_file' is required when 'tls' is given");
      if ((tls.certFile() == null) != (tls.keyFile() == null)) errors.add("'" + prefix + "tls.cert_file' and 'tls.key_file' go together");
      if (url != null && url.startsWith("tcp") || url != null && url.startsWith("mqtt:")) errors.add("'" + prefix + "tls' needs an ssl:// or mqtts:// url");
    }
  }

  static void require(List<String> errors, String origin) throws ConfigException {
    if (!errors.isEmpty()) throw new ConfigException(origin + ": " + String.join("; ", errors));
  }

  static List<String> errors() {
    return new ArrayList<>();
  }
}

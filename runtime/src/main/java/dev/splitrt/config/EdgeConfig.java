package dev.splitrt.config;

import dev.splitrt.codec.CodecConfig;
import dev.splitrt.spool.SpoolSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The on-device daemon's config ({@code splitrt edge --config edge.yaml}). Relative paths are
 * resolved against the repository (or install) root by the caller. Pipeline values left out come
 * from the device profile.
 *
 * <pre>
 * device_id: cam-01
 * fleet: demo
 * model: fs-bottlefit-cls
 * profile: x86-64-cpu
 * source: models/fs-bottlefit-cls/demo.avi
 * broker: {url: tcp://127.0.0.1:1883}
 * pipeline: {fps_cap: 15, queue_depth: 4}   # optional overrides
 * metrics_port: 9101                          # optional; 0 or absent = off
 * state_dir: /var/lib/splitrt/cam-01          # optional (this default): kept across restarts (the spool)
 * spool: {fsync: interval}                     # optional: on by default in STATE_DIR/spool (delivery.md)
 * </pre>
 */
public record EdgeConfig(
    String deviceId,
    String fleet,
    String model,
    Path modelsDir,
    String profile,
    Path profilesDir,
    String source,
    BrokerConfig broker,
    PipelineOverrides pipeline,
    Integer metricsPort,
    String metricsBind,
    Integer healthStallSeconds,
    Boolean chunking,
    SpoolConfig spool,
    Path stateDir) {
  /** Where a device keeps its state unless {@code state_dir} says: {@code /var/lib/splitrt/<device_id>}. */
  public static final Path DEFAULT_STATE_ROOT = Path.of("/var/lib/splitrt");

  /** Without spool or state sections: the default spool in {@link #stateDirectory()} (see delivery.md). */
  public EdgeConfig(String deviceId, String fleet, String model, Path modelsDir, String profile, Path profilesDir,
                    String source, BrokerConfig broker, PipelineOverrides pipeline, Integer metricsPort,
                    String metricsBind, Integer healthStallSeconds, Boolean chunking) {
    this(deviceId, fleet, model, modelsDir, profile, profilesDir, source, broker, pipeline, metricsPort,
        metricsBind, healthStallSeconds, chunking, null, null);
  }

  /**
   * The folder for what the edge keeps across restarts (the spool and its boot epoch): {@code state_dir},
   * default {@code /var/lib/splitrt/<device_id>}, one per device (two edges must not share a spool).
   */
  public Path stateDirectory() {
    return stateDir != null ? stateDir : DEFAULT_STATE_ROOT.resolve(deviceId);
  }

  /**
   * The spool this edge runs with, on by default: the {@code spool} section's values over the
   * defaults, in {@code STATE_DIR/spool} unless {@code spool.dir} names a folder; null only with
   * {@code spool: {enabled: false}} (the in-memory outbox, whose duty ends at the broker's PUBACK).
   */
  public SpoolConfig deliverySpool() {
    if (spool != null && Boolean.FALSE.equals(spool.enabled())) return null;
    SpoolConfig s = spool != null ? spool : SpoolConfig.DEFAULTS;
    return s.dir() != null ? s : s.withDir(stateDirectory().resolve("spool"));
  }

  /** Chunk FeatureFrames larger than the broker's maximum packet (default true); false: such frames are refused and counted. */
  public boolean chunkingEnabled() {
    return chunking == null || chunking;
  }

  /** Seconds without progress (capture, head, MQTT) after which /health reports unhealthy (default 10). */
  public int healthStall() {
    return healthStallSeconds == null ? 10 : healthStallSeconds;
  }

  /** Address the metrics/health endpoint binds (default 127.0.0.1; 0.0.0.0 for every interface). */
  public String metricsBindAddress() {
    return metricsBind == null ? "127.0.0.1" : metricsBind;
  }

  /** Any of these replaces the device profile's value. */
  public record PipelineOverrides(Double fpsCap, Integer queueDepth, Integer threads, CodecConfig codec) {}

  /**
   * The durable spool and the end-to-end acknowledgement ({@code runtime/docs/delivery.md}); every
   * value has a default there ({@code dir}: {@code STATE_DIR/spool}); {@code enabled: false} turns it off.
   */
  public record SpoolConfig(Path dir, Long maxBytes, Long segmentBytes, Long maxAgeSeconds, String fsync,
                            Long fsyncIntervalMs, String fullPolicy, Integer window, Long resultTimeoutMs,
                            Long resultTimeoutMaxMs, Long healthMaxWaitMs, Boolean enabled) {
    /** Every value at its default (the folder comes from the state dir). */
    public static final SpoolConfig DEFAULTS = new SpoolConfig(null, null, null, null, null, null, null, null, null, null, null, null);

    public SpoolConfig withDir(Path d) {
      return new SpoolConfig(d, maxBytes, segmentBytes, maxAgeSeconds, fsync, fsyncIntervalMs, fullPolicy, window, resultTimeoutMs,
          resultTimeoutMaxMs, healthMaxWaitMs, enabled);
    }

    public static final int DEFAULT_WINDOW = 64;
    public static final long DEFAULT_RESULT_TIMEOUT_MS = 5_000;
    public static final long DEFAULT_RESULT_TIMEOUT_MAX_MS = 60_000;
    public static final long DEFAULT_HEALTH_MAX_WAIT_MS = 30_000;

    public SpoolSettings settings() {
      return new SpoolSettings(dir, maxBytes != null ? maxBytes : SpoolSettings.DEFAULT_MAX_BYTES,
          segmentBytes != null ? segmentBytes : SpoolSettings.DEFAULT_SEGMENT_BYTES,
          maxAgeSeconds != null ? Duration.ofSeconds(maxAgeSeconds) : SpoolSettings.DEFAULT_MAX_AGE,
          fsync != null ? SpoolSettings.Fsync.valueOf(fsync.toUpperCase(Locale.ROOT)) : SpoolSettings.Fsync.INTERVAL,
          fsyncIntervalMs != null ? Duration.ofMillis(fsyncIntervalMs) : SpoolSettings.DEFAULT_FSYNC_INTERVAL,
          fullPolicy != null ? SpoolSettings.FullPolicy.valueOf(fullPolicy.toUpperCase(Locale.ROOT))
              : SpoolSettings.FullPolicy.BLOCK);
    }

    public int windowOrDefault() {
      return window != null ? window : DEFAULT_WINDOW;
    }

    public Duration resultTimeout() {
      return Duration.ofMillis(resultTimeoutMs != null ? resultTimeoutMs : DEFAULT_RESULT_TIMEOUT_MS);
    }

    public Duration resultTimeoutMax() {
      return Duration.ofMillis(resultTimeoutMaxMs != null ? resultTimeoutMaxMs
          : Math.max(DEFAULT_RESULT_TIMEOUT_MAX_MS, resultTimeout().toMillis()));
    }

    public Duration healthMaxWait() {
      return Duration.ofMillis(healthMaxWaitMs != null ? healthMaxWaitMs : DEFAULT_HEALTH_MAX_WAIT_MS);
    }

    void validate(List<String> errors) {
      if (dir != null && dir.toString().isBlank()) {
        errors.add("'spool.dir' is empty; name a folder on persistent storage, or leave it out for STATE_DIR/spool");
      }
      if (fsync != null && !List.of("always", "interval", "never").contains(fsync.toLowerCase(Locale.ROOT))) {
        errors.add("'spool.fsync' is '" + fsync + "'; write always, interval or never");
      }
      if (fullPolicy != null && !List.of("block", "drop_oldest").contains(fullPolicy.toLowerCase(Locale.ROOT))) {
        errors.add("'spool.full_policy' is '" + fullPolicy + "'; write block or drop_oldest");
      }
      if (segmentBytes != null && segmentBytes < 4096) errors.add("'spool.segment_bytes' must be >= 4096");
      long seg = segmentBytes != null ? segmentBytes : SpoolSettings.DEFAULT_SEGMENT_BYTES;
      if (maxBytes != null && maxBytes < 2 * seg) errors.add("'spool.max_bytes' must be >= 2 x segment_bytes (" + 2 * seg + ")");
      if (maxAgeSeconds != null && maxAgeSeconds < 1) errors.add("'spool.max_age_seconds' must be >= 1");
      if (fsyncIntervalMs != null && fsyncIntervalMs < 1) errors.add("'spool.fsync_interval_ms' must be >= 1");
      if (window != null && (window < 1 || window > 10_000)) errors.add("'spool.window' must be 1..10000");
      if (resultTimeoutMs != null && resultTimeoutMs < 100) errors.add("'spool.result_timeout_ms' must be >= 100");
      if (resultTimeoutMaxMs != null && resultTimeoutMaxMs < resultTimeout().toMillis()) {
        errors.add("'spool.result_timeout_max_ms' must be >= result_timeout_ms");
      }
      if (healthMaxWaitMs != null && healthMaxWaitMs < 1) errors.add("'spool.health_max_wait_ms' must be >= 1");
    }
  }

  public static EdgeConfig read(Path file) throws ConfigException {
    EdgeConfig c = Yaml.read(file, EdgeConfig.class);
    c.validate(file.toString());
    return c;
  }

  public void validate(String origin) throws ConfigException {
    List<String> errors = BrokerConfig.errors();
    if (deviceId == null || !deviceId.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'device_id' must match [A-Za-z0-9_.-]{1,64}");
    if (fleet == null || !fleet.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'fleet' must match [A-Za-z0-9_.-]{1,64}");
    if (model == null || !model.matches("[a-z0-9-]+")) errors.add("'model' must be a model id such as fs-bottlefit-cls");
    if (profile == null || profile.isBlank()) errors.add("'profile' must name a device profile (see 'splitrt profiles')");
    if (source == null || source.isBlank()) errors.add("'source' must be a frame source URI (folder, .avi, v4l2:///dev/video0, pipe:stdin?width=..&height=..)");
    if (broker == null) errors.add("'broker' section is missing; e.g. broker: {url: tcp://127.0.0.1:1883}");
    else broker.validate("broker.", errors);
    if (pipeline != null) {
      if (pipeline.fpsCap() != null && pipeline.fpsCap() < 0) errors.add("'pipeline.fps_cap' must be >= 0 (0 = uncapped)");
      if (pipeline.queueDepth() != null && (pipeline.queueDepth() < 1 || pipeline.queueDepth() > 1024)) errors.add("'pipeline.queue_depth' must be 1..1024");
      if (pipeline.threads() != null && pipeline.threads() < 0) errors.add("'pipeline.threads' must be >= 0");
    }
    if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) errors.add("'metrics_port' must be 0..65535");
    if (spool != null) spool.validate(errors);
    if (stateDir != null && stateDir.toString().isBlank()) {
      errors.add("'state_dir' is empty; name a folder on persistent storage (default /var/lib/splitrt/<device_id>)");
    }
    if (healthStall() < 1 || healthStall() > 86_400) errors.add("'health_stall_seconds' must be 1..86400");
    if (metricsBind != null && metricsBind.isBlank()) errors.add("'metrics_bind' must be an address such as 127.0.0.1 or 0.0.0.0");
    BrokerConfig.require(errors, origin);
  }
}

package dev.splitrt.config;

import dev.splitrt.model.ModelManifest;
import java.nio.file.Path;
import java.util.List;

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
    Boolean chunking) {

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
  public record PipelineOverrides(Double fpsCap, Integer queueDepth, Integer threads, ModelManifest.Codec codec) {}

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
    if (healthStall() < 1 || healthStall() > 86_400) errors.add("'health_stall_seconds' must be 1..86400");
    if (metricsBind != null && metricsBind.isBlank()) errors.add("'metrics_bind' must be an address such as 127.0.0.1 or 0.0.0.0");
    BrokerConfig.require(errors, origin);
  }
}

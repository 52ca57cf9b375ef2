package dev.splitrt.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The tail runner's config ({@code splitrt tail --config tail.yaml}). Several runners with the same
 * {@code group} share the fleet's features through an MQTT 5 shared subscription.
 *
 * <pre>
 * fleet: demo
 * group: tail
 * models: [fs-bottlefit-cls, fs-leyolo-nano-det]
 * broker: {url: tcp://127.0.0.1:1883}
 * workers: 2
 * evaluation: false    # true: detections down to the manifest's eval_score_threshold (for mAP)
 * metrics_port: 9102
 * </pre>
 */
public record TailConfig(
    String fleet,
    String group,
    List<String> models,
    Path modelsDir,
    BrokerConfig broker,
    Integer workers,
    Integer threads,
    Boolean evaluation,
    Integer queueDepth,
    Integer metricsPort,
    Long queueBytes,
    Integer resultCache,
    Integer instance,
    Long receiveMaxPacketBytes,
    String metricsBind,
    Long reassemblyBytes,
    Integer reassemblySets,
    Integer chunkTimeoutSeconds) {
  /** Default bytes of frames that incomplete chunk sets may hold together (feature-chunk-v1.md). */
  public static final long DEFAULT_REASSEMBLY_BYTES = 32L << 20;
  /** Default chunk sets open at once. */
  public static final int DEFAULT_REASSEMBLY_SETS = 256;
  /** Default seconds a chunk set may take from its first chunk to its last. */
  public static final int DEFAULT_CHUNK_TIMEOUT_SECONDS = 30;

  /** Bytes of frames that incomplete chunk sets may hold together (default 32 MiB): the reassembly memory bound. */
  public long reassemblyByteLimit() {
    return reassemblyBytes == null ? DEFAULT_REASSEMBLY_BYTES : reassemblyBytes;
  }

  /** Chunk sets open at once (default 256). */
  public int reassemblySetLimit() {
    return reassemblySets == null ? DEFAULT_REASSEMBLY_SETS : reassemblySets;
  }

  /** How long an incomplete chunk set is kept from its first chunk before it is dead-lettered (default 30 s). */
  public java.time.Duration chunkTimeout() {
    return java.time.Duration.ofSeconds(chunkTimeoutSeconds == null ? DEFAULT_CHUNK_TIMEOUT_SECONDS : chunkTimeoutSeconds);
  }

  /** Payload bytes of features waiting for a worker (default 64 MiB): the tail's memory bound for queued work. */
  public long queueByteLimit() {
    return queueBytes == null ? 64L << 20 : queueBytes;
  }

  /** Results kept to answer repeated features without computing them again (default 4096). */
  public int resultCacheEntries() {
    return resultCache == null ? 4096 : resultCache;
  }

  /** Tells tails on one host apart in the default client id {@code tail-<group>-<hostname>-<instance>} (default 0). */
  public int instanceNumber() {
    return instance == null ? 0 : instance;
  }

  /** Maximum Packet Size announced to the broker; 0 or absent = computed from the models' largest legal feature. */
  public long receiveMaxPacket() {
    return receiveMaxPacketBytes == null ? 0 : receiveMaxPacketBytes;
  }

  /** Address the metrics/health endpoint binds (default 127.0.0.1; 0.0.0.0 for every interface). */
  public String metricsBindAddress() {
    return metricsBind == null ? "127.0.0.1" : metricsBind;
  }

  public int workerCount() {
    return workers == null ? 1 : workers;
  }

  public int threadsPerWorker() {
    return threads == null ? 0 : threads;
  }

  public boolean evaluationMode() {
    return evaluation != null && evaluation;
  }

  public int queue() {
    return queueDepth == null ? 64 : queueDepth;
  }

  public static TailConfig read(Path file) throws ConfigException {
    TailConfig c = Yaml.read(file, TailConfig.class);
    c.validate(file.toString());
    return c;
  }

  public void validate(String origin) throws ConfigException {
    List<String> errors = BrokerConfig.errors();
    if (fleet == null || !fleet.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'fleet' must match [A-Za-z0-9_.-]{1,64}");
    if (group == null || !group.matches("[A-Za-z0-9_.-]{1,64}")) errors.add("'group' must match [A-Za-z0-9_.-]{1,64}");
    if (models == null || models.isEmpty()) errors.add("'models' must list at least one model id (see 'splitrt models')");
    if (broker == null) errors.add("'broker' section is missing; e.g. broker: {url: tcp://127.0.0.1:1883}");
    else broker.validate("broker.", errors);
    if (workerCount() < 1 || workerCount() > 64) errors.add("'workers' must be 1..64");
    if (threadsPerWorker() < 0) errors.add("'threads' must be >= 0 (0 = backend default)");
    if (queue() < 1 || queue() > 100_000) errors.add("'queue_depth' must be 1..100000");
    if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) errors.add("'metrics_port' must be 0..65535");
    if (queueByteLimit() < 65536) errors.add("'queue_bytes' must be >= 65536 (e.g. 67108864 = 64 MiB)");
    if (resultCacheEntries() < 0 || resultCacheEntries() > 10_000_000) errors.add("'result_cache' must be 0..10000000");
    if (instanceNumber() < 0 || instanceNumber() > 9999) errors.add("'instance' must be 0..9999");
    if (receiveMaxPacket() != 0 && (receiveMaxPacket() < 1024 || receiveMaxPacket() > 268_435_460L)) {
      errors.add("'receive_max_packet_bytes' must be 0 (computed from the models) or 1024..268435460");
    }
    if (reassemblyByteLimit() < 65536 || reassemblyByteLimit() > (1L << 34)) {
      errors.add("'reassembly_bytes' must be 65536..17179869184 (e.g. 33554432 = 32 MiB); it bounds the frames incomplete "
          + "chunk sets hold together, so make it at least a few of your largest features");
    }
    if (reassemblySetLimit() < 1 || reassemblySetLimit() > 65535) {
      errors.add("'reassembly_sets' must be 1..65535 (chunk sets open at once; default 256)");
    }
    if (chunkTimeoutSeconds != null && (chunkTimeoutSeconds < 1 || chunkTimeoutSeconds > 3600)) {
      errors.add("'chunk_timeout_seconds' must be 1..3600 (default 30); an incomplete set is dead-lettered after it");
    }
    if (metricsBind != null && metricsBind.isBlank()) errors.add("'metrics_bind' must be an address such as 127.0.0.1 or 0.0.0.0");
    BrokerConfig.require(errors, origin);
  }
}

package dev.splitrt.daemon;

import dev.splitrt.config.ConfigException;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.edge.Delivery;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.metrics.MetricsServer;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import dev.splitrt.spool.Spool;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The edge daemon as a process: source -> preprocess -> head -> FeatureFrame -> MQTT until a finite
 * source ends or SIGTERM, then a drain of what was accepted. The device assembly starts this class
 * directly (its classpath holds only the edge's jars: no command-line parser, broker or tooling);
 * {@code splitrt edge} runs {@link #run} too. The model is loaded head-only ({@link ModelRegistry#loadHead}).
 */
public final class EdgeMain {
  static final String USAGE = "usage: splitrt-edge --config FILE [--drain-seconds N]";

  private EdgeMain() {}

  public static void main(String[] args) throws Exception {
    Path config = null;
    int drain = 30;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("--config") || a.equals("--drain-seconds")) && i + 1 == args.length) usage(a + " needs a value");
      switch (a) {
        case "--config" -> config = Path.of(args[++i]);
        case "--drain-seconds" -> {
          try {
            drain = Integer.parseInt(args[++i]);
          } catch (NumberFormatException e) {
            usage("--drain-seconds '" + args[i] + "' is not a whole number of seconds");
          }
        }
        case "-h", "--help" -> {
          System.out.println(USAGE);
          return;
        }
        default -> usage("unknown argument '" + a + "'");
      }
    }
    if (config == null) usage("--config is required");
    int code;
    try {
      code = run(config, drain, null, null);
    } catch (Exception e) {
      System.err.println("splitrt-edge: " + e.getMessage());
      code = 1;
    }
    System.exit(code);
  }

  private static void usage(String why) {
    System.err.println("splitrt-edge: " + why + "\n" + USAGE);
    System.exit(2);
  }

  /**
   * Runs the edge daemon of {@code config} to its end; returns the exit code (0: the source ended or a
   * signal came, and all accepted features were acknowledged). {@code defaultModels} and
   * {@code defaultProfiles} apply where the config names no {@code models_dir} / {@code profiles_dir}
   * (null: the config must name them).
   */
  public static int run(Path config, int drainSeconds, Path defaultModels, Path defaultProfiles) throws Exception {
    EdgeConfig c = EdgeConfig.read(config);
    Path models = c.modelsDir() != null ? c.modelsDir() : required(defaultModels, config, "models_dir");
    Path profiles = c.profilesDir() != null ? c.profilesDir() : required(defaultProfiles, config, "profiles_dir");
    LoadedModel model = new ModelRegistry(models).loadHead(c.model());
    DeviceProfile profile = new DeviceProfiles(profiles).load(c.profile());
    InferenceBackend backend = Backends.select(profile.backend());
    EdgeSettings settings = EdgeDaemon.settings(c, profile, model);
    MetricsRegistry metrics = new MetricsRegistry();
    Daemons.Signals signals = new Daemons.Signals("splitrt-edge-shutdown");
    int code = 1;
    EdgeConfig.SpoolConfig sc = c.deliverySpool(); // on unless spool.enabled is false
    // The spool (and its new boot epoch, forced to disk) comes before the first feature.
    try (Spool spool = sc == null ? null : openSpool(sc, config);
         MqttLink link = MqttLink.start(Daemons.mqtt(c.broker(), "edge-" + c.deviceId(), 1000, 0), EdgeDaemon.will(c.fleet(), c.deviceId()), metrics);
         Delivery delivery = spool == null ? null : new Delivery(spool, link, new Delivery.Settings(sc.windowOrDefault(),
             sc.resultTimeout(), sc.resultTimeoutMax(), sc.healthMaxWait(), c.chunkingEnabled()), c.fleet(), c.deviceId(),
             model.manifest().id(), metrics);
         EdgeDaemon edge = EdgeDaemon.create(settings, model, backend, FrameSources.open(c.source()), link, delivery, metrics);
         MetricsServer server = c.metricsPort() == null || c.metricsPort() == 0 ? null
             : MetricsServer.start(c.metricsBindAddress(), c.metricsPort(), metrics, () -> {
                 MetricsServer.Health h = edge.health(Duration.ofSeconds(c.healthStall()));
                 if (delivery == null) return h;
                 return new MetricsServer.Health(h.healthy() && delivery.healthy(),
                     h.json().substring(0, h.json().length() - 1) + ",\"delivery\":" + delivery.healthJson() + "}");
               })) {
      if (delivery != null) delivery.start();
      edge.start();
      while (!edge.awaitSourceDone(Duration.ofMillis(200)) && !signals.received()) {
        // Runs until the source ends or a signal arrives.
      }
      boolean drained = edge.stop(Duration.ofSeconds(drainSeconds));
      EdgeStats s = edge.stats();
      System.err.printf("edge %s: captured %d, accepted %d, acked %d, dropped %d, failed %d, %d feature bytes%n", c.deviceId(),
          s.captured(), s.accepted(), s.acked(), s.dropped(), s.failed(), s.featureBytes());
      if (delivery != null) {
        Delivery.Counts d = delivery.counts();
        System.err.printf("edge %s: epoch %d, answered %d, expired %d, resent %d, duplicate results %d, unanswered %d "
            + "(kept in the spool)%n", c.deviceId(), delivery.epoch(), d.answered(), d.expired(), d.resent(),
            d.duplicateResults(), d.unanswered());
      }
      String failure = failure(edge, s, delivery, drained);
      if (failure != null) System.err.printf("edge %s: exit 1: %s%n", c.deviceId(), failure);
      code = failure == null ? 0 : 1;
      return code;
    } finally {
      signals.finish(code);
    }
  }

  /** Opens the spool, or says which folder could not be used and what to write instead. */
  private static Spool openSpool(EdgeConfig.SpoolConfig sc, Path config) throws ConfigException {
    try {
      return Spool.open(sc.settings());
    } catch (java.nio.file.FileSystemException e) { // not there, not writable, read-only: the folder is the problem
      throw new ConfigException(config + ": cannot use the spool folder " + sc.dir() + " (" + e + "); make it writable for this "
          + "user, or set 'state_dir' (the spool goes to STATE_DIR/spool) or 'spool.dir' to a folder on persistent storage; "
          + "'spool: {enabled: false}' runs without a spool (no delivery contract, runtime/docs/delivery.md)");
    } catch (java.io.IOException e) { // e.g. a damaged boot epoch file: its message says what is wrong
      throw new ConfigException(config + ": spool " + sc.dir() + ": " + e.getMessage());
    }
  }

  private static Path required(Path fallback, Path config, String field) throws ConfigException {
    if (fallback != null) return fallback;
    throw new ConfigException(config + ": " + field + " is not set; the device install has no repository to fall back on: "
        + "fix: set " + field + " (relative to the folder the daemon runs in)");
  }

  /**
   * Why this run did not do its job, or null: the exit code is 0 only when every accepted feature was
   * delivered (answered with a spool, acknowledged without) and the source did not fail. A broker that
   * refuses every frame, a head that fails every frame, a spool that expired features: all exit 1, so
   * a supervisor (systemd, a container runtime) sees it.
   */
  static String failure(EdgeDaemon edge, EdgeStats s, Delivery delivery, boolean drained) {
    if (edge.sourceError().isPresent()) return "the source failed: " + edge.sourceError().get().getMessage();
    if (s.captured() > 0 && s.accepted() == 0) {
      return "none of " + s.captured() + " frames became a feature (" + s.failed() + " failed in the head or encoder, "
          + s.dropped() + " dropped); see the ERROR lines above";
    }
    if (delivery != null) {
      Delivery.Counts d = delivery.counts();
      if (d.expired() > 0) {
        return d.expired() + " accepted features expired without a result (splitrt_edge_features_expired_*_total name the "
            + "reasons: refused by the broker, max_age, spool_full)";
      }
      if (!drained) return d.unanswered() + " features still unanswered at exit (kept in the spool, sent after the next start)";
      return null;
    }
    if (!drained) return (s.accepted() - s.acked()) + " features not acknowledged by the broker at exit (lost: no spool)";
    if (s.acked() < s.accepted()) {
      return (s.accepted() - s.acked()) + " of " + s.accepted() + " features refused by the broker "
          + "(splitrt_mqtt_publish_refused_<reason>_total; e.g. larger than its max_packet_size with chunking off)";
    }
    return null;
  }
}

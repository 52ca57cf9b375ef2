package dev.splitrt.cli;

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
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "edge", mixinStandardHelpOptions = true,
    description = {"Run the on-device daemon: source -> preprocess -> head -> FeatureFrame -> MQTT.",
        "Runs until a finite source ends or SIGTERM; then drains what was accepted and exits."})
final class EdgeCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, paramLabel = "FILE", description = "Edge config (YAML); see runtime/docs/configuration.md.")
  Path config;

  @Option(names = "--drain-seconds", defaultValue = "30", description = "How long to wait for the broker to acknowledge what was accepted (default ${DEFAULT-VALUE}).")
  int drainSeconds;

  @Override
  public Integer call() throws Exception {
    EdgeConfig c = EdgeConfig.read(config);
    ModelRegistry registry = new ModelRegistry(c.modelsDir() != null ? c.modelsDir() : RepoPaths.models());
    LoadedModel model = registry.loadHead(c.model());
    DeviceProfile profile = new DeviceProfiles(c.profilesDir() != null ? c.profilesDir() : RepoPaths.profiles()).load(c.profile());
    InferenceBackend backend = Backends.select(profile.backend());
    EdgeSettings settings = EdgeDaemon.settings(c, profile, model);
    MetricsRegistry metrics = new MetricsRegistry();
    Daemons.Signals signals = new Daemons.Signals("splitrt-edge-shutdown");
    int code = 1;
    // The spool (and its new boot epoch, forced to disk) comes before the first feature.
    try (Spool spool = c.spool() == null ? null : Spool.open(c.spool().settings());
         MqttLink link = MqttLink.start(Daemons.mqtt(c.broker(), "edge-" + c.deviceId(), 1000, 0), EdgeDaemon.will(c.fleet(), c.deviceId()), metrics);
         Delivery delivery = spool == null ? null : new Delivery(spool, link, new Delivery.Settings(c.spool().windowOrDefault(),
             c.spool().resultTimeout(), c.spool().resultTimeoutMax(), c.spool().healthMaxWait()), c.fleet(), c.deviceId(),
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
      code = edge.sourceError().isPresent() || !drained ? 1 : 0;
      return code;
    } finally {
      signals.finish(code);
    }
  }
}

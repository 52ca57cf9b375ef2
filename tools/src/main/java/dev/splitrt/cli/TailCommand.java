package dev.splitrt.cli;

import dev.splitrt.daemon.Daemons;
import dev.splitrt.infer.BackendPreference;
import dev.splitrt.config.TailConfig;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.metrics.MetricsServer;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.transport.MqttLink;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "tail", mixinStandardHelpOptions = true,
    description = {"Run a tail runner: shared subscription -> strict decode -> tail -> results.",
        "Start several with the same group to share the load. Runs until SIGTERM."})
final class TailCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, paramLabel = "FILE", description = "Tail config (YAML); see runtime/docs/configuration.md.")
  Path config;

  @Override
  public Integer call() throws Exception {
    TailConfig c = TailConfig.read(config);
    ModelRegistry registry = new ModelRegistry(c.modelsDir() != null ? c.modelsDir() : RepoPaths.models());
    List<LoadedModel> models = new ArrayList<>();
    for (String id : c.models()) models.add(registry.load(id));
    InferenceBackend backend = Backends.select(BackendPreference.auto);
    String runnerId = c.broker().clientId() != null ? c.broker().clientId() : defaultClientId(c.group(), c.instanceNumber());
    MetricsRegistry metrics = new MetricsRegistry();
    TailRunner.Settings settings = new TailRunner.Settings(c.fleet(), c.group(), runnerId, c.workerCount(), c.threadsPerWorker(),
        c.evaluationMode(), c.queue(), c.queueByteLimit(), c.resultCacheEntries(), c.reassemblyByteLimit(), c.reassemblySetLimit(),
        c.chunkTimeout());
    long maxPacket = c.receiveMaxPacket() > 0 ? c.receiveMaxPacket() : TailRunner.maxFeaturePacketBytes(models);
    Daemons.Signals signals = new Daemons.Signals("splitrt-tail-shutdown");
    int code = 1;
    try (MqttLink link = MqttLink.start(Daemons.mqtt(c.broker(), runnerId, 250, 0)
             .withReceiveMaxPacketBytes(maxPacket), null, metrics);
         TailRunner runner = TailRunner.start(settings, models, backend, link, metrics);
         MetricsServer server = c.metricsPort() == null || c.metricsPort() == 0 ? null
             : MetricsServer.start(c.metricsBindAddress(), c.metricsPort(), metrics, () -> new MetricsServer.Health(link.health().healthy(),
                 "{\"connected\":" + link.connected() + ",\"mqtt_ok\":" + link.health().healthy() + ",\"queued\":"
                     + runner.stats().queued() + "}"))) {
      while (!signals.await(1_000)) {
        // Serves until SIGTERM/SIGINT.
      }
      runner.awaitIdle(5_000);
      link.drain(java.time.Duration.ofSeconds(10));
      TailRunner.Stats s = runner.stats();
      System.err.printf("tail %s: received %d, results %d, dead-lettered %d%n", runnerId, s.received(), s.published(), s.deadLettered());
      code = 0;
    } finally {
      signals.finish(code);
    }
    return code;
  }

  /**
   * {@code tail-<group>-<hostname>-<instance>}: stable across restarts, so a restarted tail takes its
   * own connection over instead of leaving a second, dead member in the shared group.
   */
  static String defaultClientId(String group, int instance) {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = System.getenv().getOrDefault("HOSTNAME", "host");
    }
    String clean = host.replaceAll("[^A-Za-z0-9_.-]", "-");
    String id = "tail-" + group + "-" + clean + "-" + instance;
    return id.length() <= 64 ? id : "tail-" + group + "-" + Integer.toHexString(clean.hashCode()) + "-" + instance;
  }
}

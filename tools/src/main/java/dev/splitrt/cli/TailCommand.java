package dev.splitrt.cli;

import dev.splitrt.config.TailConfig;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.metrics.MetricsServer;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.transport.MqttLink;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
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
    InferenceBackend backend = Backends.select(DeviceProfile.Backend.auto);
    String runnerId = "tail-" + UUID.randomUUID().toString().substring(0, 8);
    MetricsRegistry metrics = new MetricsRegistry();
    TailRunner.Settings settings = new TailRunner.Settings(c.fleet(), c.group(), runnerId, c.workerCount(), c.threadsPerWorker(),
        c.evaluationMode(), c.queue());
    Daemons.Signals signals = new Daemons.Signals("splitrt-tail-shutdown");
    int code = 1;
    try (MqttLink link = MqttLink.start(Daemons.mqtt(c.broker(), runnerId, 250, 3600), null, metrics);
         TailRunner runner = TailRunner.start(settings, models, backend, link, metrics);
         MetricsServer server = c.metricsPort() == null || c.metricsPort() == 0 ? null
             : MetricsServer.start("0.0.0.0", c.metricsPort(), metrics, () -> new MetricsServer.Health(link.connected(),
                 "{\"connected\":" + link.connected() + ",\"queued\":" + runner.stats().queued() + "}"))) {
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
}

package dev.splitrt.cli;

import dev.splitrt.daemon.EdgeMain;
import java.nio.file.Path;
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
    // The same daemon the device assembly starts (EdgeMain); here the repository's zoo and profiles are the defaults.
    return EdgeMain.run(config, drainSeconds, RepoPaths.models(), RepoPaths.profiles());
  }
}

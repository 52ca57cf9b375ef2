package dev.splitrt.cli;

import dev.splitrt.config.ConfigException;
import dev.splitrt.config.Yaml;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "profiles", mixinStandardHelpOptions = true,
    description = "List the device profiles, or validate and show one.")
final class ProfilesCommand implements Callable<Integer> {
  @Parameters(arity = "0..1", paramLabel = "NAME", description = "A profile to validate and print.")
  String name;

  @Option(names = "--profiles", paramLabel = "DIR", description = "Device profile folder (default: the repository's device-profiles/).")
  Path dir;

  @Override
  public Integer call() throws ConfigException, Exception {
    DeviceProfiles profiles = new DeviceProfiles(dir != null ? dir : RepoPaths.profiles());
    if (name == null) {
      for (String n : profiles.names()) {
        DeviceProfile p = profiles.load(n);
        System.out.printf("%-22s %-8s %-12s %s%n", n, p.arch(), String.join(",", p.precisions()), p.description());
      }
      return 0;
    }
    DeviceProfile p = profiles.load(name);
    System.out.print(Yaml.mapper().writeValueAsString(p));
    return 0;
  }
}

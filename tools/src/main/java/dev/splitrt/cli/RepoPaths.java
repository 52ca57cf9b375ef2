package dev.splitrt.cli;

import java.nio.file.Path;

/** Where the zoo and the device profiles are: the repository the launcher runs from, else the working directory. */
final class RepoPaths {
  private RepoPaths() {}

  static Path root() {
    String repo = System.getProperty("splitrt.repo");
    return Path.of(repo != null ? repo : ".").toAbsolutePath().normalize();
  }

  static Path models() {
    return root().resolve("models");
  }

  static Path profiles() {
    return root().resolve("device-profiles");
  }
}

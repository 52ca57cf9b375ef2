package dev.splitrt.cli;

import picocli.CommandLine;

/** GPU-run launcher for {@code splitrt engine ...} while EngineCommand is not yet registered in Main. */
public final class EngineMain {
  private EngineMain() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new EngineCommand()).execute(args));
  }
}

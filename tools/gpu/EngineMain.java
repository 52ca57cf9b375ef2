package dev.splitrt.cli;

import picocli.CommandLine;

/**
 * {@code splitrt engine} for the GPU host's hand-staged class path (tools/gpu/stage.sh), which holds the runtime
 * and this command but not the other commands' libraries (HiveMQ, OpenCV...) that {@link Main} needs. It uses
 * Main's error handler, so a user error (an INT8 build of an FP32 part, a missing file) is one line on stderr and
 * exit code 1, exactly as {@code splitrt engine} prints it, not a stack trace.
 */
public final class EngineMain {
  private EngineMain() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new EngineCommand()).setExecutionExceptionHandler(new Errors()).execute(args));
  }
}

package dev.splitrt.cli;

import picocli.CommandLine;

/**
 * Turns the project's expected failures (bad config, bad model, unreachable broker) into one clear
 * line on stderr and exit code 1; anything else is a bug: stack trace and exit code 70.
 */
final class Errors implements CommandLine.IExecutionExceptionHandler {
  @Override
  public int handleExecutionException(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
    if (isExpected(e)) {
      cl.getErr().println("splitrt " + cl.getCommandName() + ": " + e.getMessage());
      return 1;
    }
    cl.getErr().println("splitrt " + cl.getCommandName() + ": internal error (please report): " + e);
    e.printStackTrace(cl.getErr());
    return 70;
  }

  /** Checked exceptions are the documented failure modes (their messages say the fix); unchecked ones are bugs. */
  static boolean isExpected(Exception e) {
    return !(e instanceof RuntimeException);
  }

  /** A failure the user can fix; its message says how. */
  static final class UserError extends Exception {
    UserError(String message) {
      super(message);
    }
  }
}

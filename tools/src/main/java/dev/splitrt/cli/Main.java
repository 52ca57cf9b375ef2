package dev.splitrt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code splitrt} command line. Exit codes: 0 ok, 1 failed check, 2 usage, 70 internal error. */
@Command(
    name = "splitrt",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "SplitRT: split-computing runtime (edge head -> MQTT -> tail runner).",
    subcommands = {
      DemoCommand.class,
      EdgeCommand.class,
      TailCommand.class,
      ModelsCommand.class,
      ProfilesCommand.class,
      EngineCommand.class,
      QuantizeCommand.class,
      EvalCommand.class,
      ProvisionCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    // HiveMQ's jar ships a logback.xml of its own; name ours so logback does not pick one at random.
    if (System.getProperty("logback.configurationFile") == null) System.setProperty("logback.configurationFile", "splitrt-logback.xml");
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(new Errors());
    return cl;
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (try 'splitrt --help')");
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"splitrt " + (v == null ? "dev" : v) + ", Java " + Runtime.version()};
    }
  }
}

package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon that runs out of heap ends (exit 3) instead of hanging: measured with {@code -Xmx16m}, the demo's links
 * caught the OutOfMemoryError in their connect loops and the process stayed up doing nothing, for good. The JVM
 * flags are read from the launcher's own {@code exec java} line, so this fails when the launcher loses them.
 */
class OutOfMemoryExitIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));

  @Test
  void theLaunchersFlagsEndAProcessThatRunsOutOfHeap(@TempDir Path dir) throws Exception {
    String launcher = Files.readString(REPO.resolve("tools/splitrt"));
    Matcher exec = Pattern.compile("(?m)^exec java (.*?) \\$\\{SPLITRT_JAVA_OPTS").matcher(launcher);
    assertThat(exec.find()).as("tools/splitrt has an 'exec java <flags> ${SPLITRT_JAVA_OPTS...' line").isTrue();
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(List.of(exec.group(1).trim().split("\\s+")));
    Path target = REPO.resolve("tools/target");
    cmd.addAll(List.of("-Xmx16m", "-Dsplitrt.repo=" + REPO, "-cp", target.resolve("splitrt-tools.jar") + java.io.File.pathSeparator
        + target.resolve("lib") + "/*", "dev.splitrt.cli.Main", "demo"));
    Path log = dir.resolve("demo.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean ended = p.waitFor(120, TimeUnit.SECONDS);
    if (!ended) p.destroyForcibly();
    String out = Files.readString(log);
    System.out.println("flags " + exec.group(1) + " -Xmx16m: ended " + ended + (ended ? ", exit " + p.exitValue() : "") + "; log tail: "
        + out.substring(Math.max(0, out.length() - 400)));
    assertThat(ended).as("the process ended within 120 s of starting with a 16 MB heap").isTrue();
    assertThat(p.exitValue()).as(out).isEqualTo(3);
    assertThat(out).contains("java.lang.OutOfMemoryError");
  }
}

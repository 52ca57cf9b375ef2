package dev.splitrt.codec;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Book-keeping one Jazzer {@code @FuzzTest} shares with its {@code @AfterAll}: inputs run, outcomes,
 * the largest allocation seen against its bound. {@link #finish} fails the run when it did less than it
 * should: in regression mode (no {@code JAZZER_FUZZ}) every committed seed must have run, since Jazzer
 * alone would pass with its one built-in empty input when the seed folder is missing; in fuzzing mode
 * the configured number of executions must have run (libFuzzer stops quietly at {@code maxDuration}).
 */
final class FuzzRun {
  /** What CI runs per fuzz target (issue 12 item 7: at least 100,000 executions). */
  static final long CI_EXECUTIONS = 100_000;
  /**
   * Fixed cost of one decode or refusal that no size in the message drives: the exception with its stack
   * trace (HotSpot's backtrace chunks, a few KiB at Jazzer's call depth) and its message (at most a few
   * hundred characters, built through StringBuilder growth and String.format), the result records, and
   * for chunks the set's map key and entry. Sizes proportional to the message or to a declared size are
   * in each target's own bound, never in this constant.
   */
  static final long FIXED_BYTES = 16 << 10;

  private static final com.sun.management.ThreadMXBean THREADS = threads();
  private final String name;
  private final Map<String, Long> outcomes = new TreeMap<>();
  private long inputs;
  private long nonEmpty;
  private long maxAllocated;
  private long maxAllocatedBound;
  private long startNanos;

  FuzzRun(String name) {
    this.name = name;
  }

  private static com.sun.management.ThreadMXBean threads() {
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    if (!mx.isThreadAllocatedMemorySupported() || !mx.isThreadAllocatedMemoryEnabled()) {
      throw new IllegalStateException("this JVM does not measure per-thread allocation; the fuzz tests' memory bound needs it");
    }
    return mx;
  }

  /** Bytes this thread allocated so far (allocation-free itself). */
  static long allocated() {
    return THREADS.getCurrentThreadAllocatedBytes();
  }

  void input(byte[] data) {
    if (inputs++ == 0) startNanos = System.nanoTime();
    if (data.length > 0) nonEmpty++;
  }

  void outcome(String what) {
    outcomes.merge(what, 1L, Long::sum);
  }

  /** Fails (a Jazzer finding) when {@code used} exceeds {@code bound}. */
  void allocation(String what, long used, long bound, byte[] input) {
    if (used > maxAllocated) {
      maxAllocated = used;
      maxAllocatedBound = bound;
    }
    if (used > bound) {
      throw new AssertionError(what + " allocated " + used + " bytes for a " + input.length + "-byte input, more than its bound of "
          + bound + " bytes; input starts " + HexFormat.of().formatHex(input, 0, Math.min(64, input.length)));
    }
  }

  static boolean fuzzing() {
    for (String v : new String[] {System.getenv("JAZZER_FUZZ"), System.getProperty("JAZZER_FUZZ")}) {
      if (v != null && (v.equalsIgnoreCase("true") || v.equals("1") || v.equalsIgnoreCase("yes"))) return true;
    }
    return false;
  }

  /** The executions a fuzzing run must reach: {@code JAZZER_MAX_EXECUTIONS} / {@code jazzer.max_executions} or the CI figure. */
  static long expectedExecutions() {
    String v = System.getProperty("jazzer.max_executions", System.getenv("JAZZER_MAX_EXECUTIONS"));
    return v == null || v.isBlank() ? CI_EXECUTIONS : Long.parseLong(v.trim());
  }

  /** Checks the run did what it should and prints its figures. */
  void finish(Class<?> test, String method) {
    double seconds = inputs == 0 ? 0 : (System.nanoTime() - startNanos) / 1e9;
    boolean fuzzing = fuzzing();
    System.out.printf("%s.%s (%s): %s, %d inputs (%d non-empty) in %.1f s; outcomes %s; largest allocation %d bytes against "
            + "its bound of %d%n", test.getSimpleName(), method, name, fuzzing ? "fuzzing" : "regression (seeds only)", inputs, nonEmpty,
        seconds, outcomes, maxAllocated, maxAllocatedBound);
    if (fuzzing) {
      long expected = expectedExecutions();
      if (inputs < expected) {
        throw new AssertionError(test.getSimpleName() + "." + method + " ran " + inputs + " inputs, fewer than the " + expected
            + " configured; libFuzzer stopped early (maxDuration reached?) — raise the duration or find why it is slow");
      }
      return;
    }
    long seeds = seedFiles(test, method);
    if (seeds == 0 || nonEmpty < seeds) {
      throw new AssertionError(test.getSimpleName() + "." + method + " ran " + nonEmpty + " non-empty inputs but its seed folder "
          + test.getSimpleName() + "Inputs/" + method + " holds " + seeds + " files; the regression run must replay every seed "
          + "(regenerate them with FuzzSeeds.main if the folder is missing)");
    }
  }

  private static long seedFiles(Class<?> test, String method) {
    URL dir = test.getResource(test.getSimpleName() + "Inputs/" + method);
    if (dir == null) return 0;
    try (var files = Files.list(Path.of(dir.toURI()))) {
      return files.filter(Files::isRegularFile).count();
    } catch (IOException | URISyntaxException e) {
      throw new IllegalStateException("cannot list the seed folder " + dir + ": " + e, e);
    }
  }
}

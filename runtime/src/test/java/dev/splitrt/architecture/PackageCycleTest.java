package dev.splitrt.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The runtime's packages form no cycle: each package can be understood, tested and later cut into its own module
 * without the ones that depend on it. The dependencies are the compiled classes' own, read by the JDK's jdeps; a
 * failure lists each cycle with the class-level edges that close it.
 */
class PackageCycleTest {
  private static final Path CLASSES = Path.of("target", "classes");
  private static final Pattern EDGE = Pattern.compile("^\\s+(dev\\.splitrt\\.[\\w.$]+)\\s+->\\s+(dev\\.splitrt\\.[\\w.$]+)");

  @Test
  void theRuntimesPackagesFormNoCycle() {
    assertThat(CLASSES.resolve("dev/splitrt")).as("compiled classes (run from the runtime module)").isDirectory();
    Map<String, Set<String>> classEdges = jdeps("-verbose:class");
    Map<String, Set<String>> packages = new TreeMap<>();
    classEdges.forEach((from, tos) -> {
      for (String to : tos) {
        String a = packageOf(from);
        String b = packageOf(to);
        if (!a.equals(b)) packages.computeIfAbsent(a, k -> new TreeSet<>()).add(b);
      }
    });
    System.out.println("package dependencies: " + packages);
    assertThat(packages).as("jdeps found the packages' dependencies").hasSizeGreaterThan(5);
    List<Set<String>> cycles = cycles(packages);
    List<String> explained = new ArrayList<>();
    for (Set<String> cycle : cycles) {
      List<String> edges = new ArrayList<>();
      classEdges.forEach((from, tos) -> tos.stream()
          .filter(to -> !packageOf(from).equals(packageOf(to)) && cycle.contains(packageOf(from)) && cycle.contains(packageOf(to)))
          .forEach(to -> edges.add(from + " -> " + to)));
      explained.add(cycle + " through " + edges);
    }
    assertThat(explained).as("package cycles").isEmpty();
  }

  @Test
  void theCycleFinderFindsCyclesAndOnlyCycles() {
    Map<String, Set<String>> g = new HashMap<>();
    g.put("a", Set.of("b"));
    g.put("b", Set.of("c"));
    g.put("c", Set.of("a", "d"));
    g.put("d", Set.of("e"));
    g.put("e", Set.of());
    g.put("x", Set.of("x"));
    assertThat(cycles(g)).containsExactly(Set.of("a", "b", "c"));
    g.put("e", Set.of("d"));
    assertThat(cycles(g)).containsExactlyInAnyOrder(Set.of("a", "b", "c"), Set.of("d", "e"));
  }

  static String packageOf(String cls) {
    String outer = cls.contains("$") ? cls.substring(0, cls.indexOf('$')) : cls;
    return outer.substring(0, outer.lastIndexOf('.'));
  }

  /** Class -> classes it uses, both in dev.splitrt, as jdeps reports them. */
  static Map<String, Set<String>> jdeps(String verbosity) {
    ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new IllegalStateException("this JDK has no jdeps"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), verbosity, "-filter:none", "-e", "dev\\.splitrt\\..*",
        CLASSES.toString());
    assertThat(rc).as("jdeps: " + err).isZero();
    Map<String, Set<String>> edges = new TreeMap<>();
    for (String line : out.toString().split("\n")) {
      Matcher m = EDGE.matcher(line);
      if (m.find()) edges.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(m.group(2));
    }
    return edges;
  }

  /** The strongly connected components of more than one node (Tarjan), i.e. the cycles; self-loops do not count. */
  static List<Set<String>> cycles(Map<String, Set<String>> g) {
    Map<String, Integer> index = new HashMap<>();
    Map<String, Integer> low = new HashMap<>();
    Deque<String> stack = new ArrayDeque<>();
    Set<String> onStack = new java.util.HashSet<>();
    List<Set<String>> out = new ArrayList<>();
    int[] counter = {0};
    for (String v : new TreeSet<>(g.keySet())) {
      if (!index.containsKey(v)) connect(v, g, index, low, stack, onStack, out, counter);
    }
    return out;
  }

  private static void connect(String v, Map<String, Set<String>> g, Map<String, Integer> index, Map<String, Integer> low,
      Deque<String> stack, Set<String> onStack, List<Set<String>> out, int[] counter) {
    index.put(v, counter[0]);
    low.put(v, counter[0]++);
    stack.push(v);
    onStack.add(v);
    for (String w : g.getOrDefault(v, Set.of())) {
      if (!index.containsKey(w)) {
        connect(w, g, index, low, stack, onStack, out, counter);
        low.put(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.contains(w)) {
        low.put(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v).equals(index.get(v))) {
      Set<String> component = new TreeSet<>();
      String w;
      do {
        w = stack.pop();
        onStack.remove(w);
        component.add(w);
      } while (!w.equals(v));
      if (component.size() > 1) out.add(component);
    }
  }
}

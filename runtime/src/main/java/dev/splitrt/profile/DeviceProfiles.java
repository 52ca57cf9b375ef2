package dev.splitrt.profile;

import dev.splitrt.infer.BackendPreference;
import dev.splitrt.config.ConfigException;
import dev.splitrt.config.Yaml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** Reads and validates the device profiles in a {@code device-profiles/} folder. */
public final class DeviceProfiles {
  private static final Set<String> PRECISIONS = Set.of("fp32", "fp16", "int8");
  private static final Set<Integer> BITS = Set.of(2, 4, 6, 8);

  private final Path dir;

  public DeviceProfiles(Path dir) {
    this.dir = dir;
  }

  public List<String> names() throws ConfigException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml"))
          .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
    } catch (IOException e) {
      throw new ConfigException(dir + ": cannot list device profiles (" + e.getMessage() + "); pass --profiles DIR", e);
    }
  }

  public DeviceProfile load(String name) throws ConfigException {
    Path file = dir.resolve(name + ".yaml");
    if (!Files.isRegularFile(file)) {
      throw new ConfigException("unknown device profile '" + name + "' (no " + file + "); known: " + names());
    }
    DeviceProfile p = Yaml.read(file, DeviceProfile.class);
    validate(p, file.toString());
    if (!p.name().equals(name)) {
      throw new ConfigException(file + ": field 'name' is '" + p.name() + "' but the file is " + name + ".yaml; make them equal");
    }
    return p;
  }

  private static final String VERSION = "\\d+(\\.(\\d+|x))*";

  /**
   * glibc of each JetPack's root file system (L4T): 4.6 is Ubuntu 18.04, 5.x Ubuntu 20.04, 6.x Ubuntu
   * 22.04. Keyed by the JetPack major version, except 4.6, the only JetPack 4 a profile names.
   */
  public static final java.util.Map<String, String> JETPACK_GLIBC = java.util.Map.of("4.6", "2.27", "5", "2.31", "6", "2.35");

  /** The glibc {@code jetpack} ships, or null for a JetPack not in {@link #JETPACK_GLIBC}. */
  public static String jetpackGlibc(String jetpack) {
    if (jetpack == null) return null;
    String exact = JETPACK_GLIBC.get(jetpack);
    if (exact != null) return exact;
    String major = jetpack.split("\\.")[0];
    return major.equals("4") ? null : JETPACK_GLIBC.get(major);
  }

  private static void validateExtensions(DeviceProfile p, List<String> errors) {
    if (p.gpu() != null && p.gpu().sm() != null && p.gpu().sm().matches("\\d+\\.\\d+")
        && p.backend() != BackendPreference.onnxruntime && smBelow(p.gpu().sm(), 7, 0)) {
      errors.add("'backend' is " + p.backend() + " but 'gpu.sm' " + p.gpu().sm()
          + " is below 7.0, which TensorRT 10 needs; use backend: onnxruntime");
    }
    DeviceProfile.Software sw = p.software();
    if (sw != null) {
      if (sw.jetpack() != null && !sw.jetpack().matches(VERSION)) errors.add("'software.jetpack' must look like 6.1");
      if (sw.cuda() != null && !sw.cuda().matches(VERSION)) errors.add("'software.cuda' must look like 12.6");
      boolean minOk = sw.tensorrtMin() == null || sw.tensorrtMin().matches(VERSION);
      boolean maxOk = sw.tensorrtMax() == null || sw.tensorrtMax().matches(VERSION);
      if (!minOk) errors.add("'software.tensorrt_min' must look like 10.3");
      if (!maxOk) errors.add("'software.tensorrt_max' must look like 10.x or 10.6");
      if (minOk && maxOk && sw.tensorrtMin() != null && sw.tensorrtMax() != null
          && compareVersions(sw.tensorrtMin(), sw.tensorrtMax()) > 0) {
        errors.add("'software.tensorrt_min' " + sw.tensorrtMin() + " is above 'software.tensorrt_max' " + sw.tensorrtMax());
      }
      if (sw.jetpack() != null && sw.jetpack().matches(VERSION)) {
        String want = jetpackGlibc(sw.jetpack());
        if (want == null) errors.add("'software.jetpack' " + sw.jetpack() + " has no known glibc; known: " + JETPACK_GLIBC);
        else if (!want.equals(sw.glibc())) {
          errors.add("'software.glibc' is " + sw.glibc() + " but JetPack " + sw.jetpack() + " ships glibc " + want + "; set glibc: '" + want + "'");
        }
        if (sw.build() == null) errors.add("'software.build' must say which build runs on this JetPack: standard, jetpack6 or none");
      }
      if (sw.build() == DeviceProfile.BuildLine.none && (sw.unsupported() == null || sw.unsupported().isBlank())) {
        errors.add("'software.build' is none: 'software.unsupported' must say why no build runs here");
      }
      if (sw.build() != null && sw.build() != DeviceProfile.BuildLine.none && sw.unsupported() != null) {
        errors.add("'software.unsupported' is set but 'software.build' is " + sw.build() + "; use build: none or drop unsupported");
      }
    }
    DeviceProfile.PowerMode pm = p.powerMode();
    if (pm != null) {
      if (pm.nvpmodel() < 0 || pm.nvpmodel() > 31) errors.add("'power_mode.nvpmodel' must be 0..31 (the id `nvpmodel -q` prints)");
      if (pm.name() == null || pm.name().isBlank()) errors.add("'power_mode.name' must name the mode, e.g. MAXN");
      if (pm.watts() <= 0) errors.add("'power_mode.watts' must be > 0");
    }
    DeviceProfile.EngineBuild e = p.engine();
    if (e != null) {
      if (p.gpu() == null) errors.add("'engine' needs a 'gpu' section (TensorRT builds engines for a GPU)");
      if (e.dlaCore() != null && (e.dlaCore() < 0 || e.dlaCore() >= Math.max(p.dlaCores(), 0) || p.dlaCores() == 0)) {
        errors.add("'engine.dla_core' is " + e.dlaCore() + " but 'dla_cores' is " + p.dlaCores()
            + "; use 0.." + (p.dlaCores() - 1) + " or leave it out");
      }
      if (e.workspaceMb() != null && (e.workspaceMb() < 16 || e.workspaceMb() > 1 << 20)) {
        errors.add("'engine.workspace_mb' must be 16..1048576");
      }
      if (e.builderOptimizationLevel() != null && (e.builderOptimizationLevel() < 0 || e.builderOptimizationLevel() > 5)) {
        errors.add("'engine.builder_optimization_level' must be 0..5 (TensorRT default 3)");
      }
      if (e.timingCache() != null && e.timingCache().isBlank()) errors.add("'engine.timing_cache' must be a file name or be left out");
    }
  }

  private static boolean smBelow(String sm, int major, int minor) {
    String[] parts = sm.split("\\.");
    int a = Integer.parseInt(parts[0]);
    int b = Integer.parseInt(parts[1]);
    return a < major || (a == major && b < minor);
  }

  /** Compares dotted versions; an "x" component is larger than any number. */
  static int compareVersions(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      int u = i < x.length ? (x[i].equals("x") ? Integer.MAX_VALUE : Integer.parseInt(x[i])) : 0;
      int v = i < y.length ? (y[i].equals("x") ? Integer.MAX_VALUE : Integer.parseInt(y[i])) : 0;
      if (u != v) return Integer.compare(u, v);
    }
    return 0;
  }

  static void validate(DeviceProfile p, String origin) throws ConfigException {
    List<String> errors = new ArrayList<>();
    if (p.name() == null || !p.name().matches("[a-z0-9][a-z0-9-]*")) errors.add("'name' must match [a-z0-9-]+");
    if (p.arch() == null || !Set.of("x86_64", "aarch64").contains(p.arch())) errors.add("'arch' must be x86_64 or aarch64");
    if (p.precisions() == null || p.precisions().isEmpty()) errors.add("'precisions' must list at least one of " + PRECISIONS);
    else for (String s : p.precisions()) if (!PRECISIONS.contains(s)) errors.add("'precisions' has '" + s + "'; use " + PRECISIONS);
    if (p.dlaCores() < 0 || p.dlaCores() > 2) errors.add("'dla_cores' must be 0..2");
    if (p.memoryMb() <= 0) errors.add("'memory_mb' must be > 0");
    if (p.backend() == null) errors.add("'backend' must be auto, tensorrt or onnxruntime");
    if (p.gpu() == null && p.backend() == BackendPreference.tensorrt) errors.add("'backend: tensorrt' needs a 'gpu' section");
    if (p.gpu() != null && (p.gpu().sm() == null || !p.gpu().sm().matches("\\d+\\.\\d+"))) errors.add("'gpu.sm' must look like 8.7");
    if (p.pipeline() == null) errors.add("'pipeline' section is missing");
    else {
      if (p.pipeline().fpsCap() < 0) errors.add("'pipeline.fps_cap' must be >= 0 (0 = uncapped)");
      if (p.pipeline().queueDepth() < 1 || p.pipeline().queueDepth() > 1024) errors.add("'pipeline.queue_depth' must be 1..1024");
      if (p.pipeline().threads() < 0) errors.add("'pipeline.threads' must be >= 0 (0 = backend default)");
      if (p.pipeline().codec() != null && !BITS.contains(p.pipeline().codec().bits())) errors.add("'pipeline.codec.bits' must be one of " + BITS);
    }
    if (p.network() == null) errors.add("'network' section is missing");
    else {
      if (p.network().uplinkKbps() <= 0) errors.add("'network.uplink_kbps' must be > 0");
      if (p.network().maxPacketBytes() < 1024) errors.add("'network.max_packet_bytes' must be >= 1024");
    }
    validateExtensions(p, errors);
    if (!errors.isEmpty()) throw new ConfigException(origin + ": " + String.join("; ", errors));
  }
}

package dev.splitrt.profile;

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

  static void validate(DeviceProfile p, String origin) throws ConfigException {
    List<String> errors = new ArrayList<>();
    if (p.name() == null || !p.name().matches("[a-z0-9][a-z0-9-]*")) errors.add("'name' must match [a-z0-9-]+");
    if (p.arch() == null || !Set.of("x86_64", "aarch64").contains(p.arch())) errors.add("'arch' must be x86_64 or aarch64");
    if (p.precisions() == null || p.precisions().isEmpty()) errors.add("'precisions' must list at least one of " + PRECISIONS);
    else for (String s : p.precisions()) if (!PRECISIONS.contains(s)) errors.add("'precisions' has '" + s + "'; use " + PRECISIONS);
    if (p.dlaCores() < 0 || p.dlaCores() > 2) errors.add("'dla_cores' must be 0..2");
    if (p.memoryMb() <= 0) errors.add("'memory_mb' must be > 0");
    if (p.backend() == null) errors.add("'backend' must be auto, tensorrt or onnxruntime");
    if (p.gpu() == null && p.backend() == DeviceProfile.Backend.tensorrt) errors.add("'backend: tensorrt' needs a 'gpu' section");
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
    if (!errors.isEmpty()) throw new ConfigException(origin + ": " + String.join("; ", errors));
  }
}

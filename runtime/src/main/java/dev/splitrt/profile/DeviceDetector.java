package dev.splitrt.profile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Picks the device profile of the machine this runs on, so a daemon needs no profile flag on a
 * known board: an explicit override (flag, {@code -Dsplitrt.profile}, env {@code SPLITRT_PROFILE})
 * wins, then the Jetson board in {@code /proc/device-tree/model} (memory from {@code /proc/meminfo}
 * tells the 4/8, 8/16 and 32/64 GB variants apart), then the CUDA GPU when one was queried,
 * else {@code x86-64-cpu}.
 */
public final class DeviceDetector {
  /** The profile used when nothing else matches. */
  public static final String FALLBACK = "x86-64-cpu";

  /** How a profile was chosen, for the one log line a daemon prints at start. */
  public record Detection(String profile, String reason) {}

  private DeviceDetector() {}

  /**
   * @param override   a profile name given by the user, or null
   * @param gpuName    the CUDA device name when CUDA loaded (e.g. "NVIDIA H100 80GB HBM3"), or null
   */
  public static Detection detect(String override, String gpuName) {
    String fromEnv = override != null ? override : System.getProperty("splitrt.profile", System.getenv("SPLITRT_PROFILE"));
    return detect(fromEnv, Path.of("/proc/device-tree/model"), Path.of("/proc/meminfo"), gpuName);
  }

  static Detection detect(String override, Path deviceTreeModel, Path meminfo, String gpuName) {
    if (override != null && !override.isBlank()) return new Detection(override.trim(), "given explicitly");
    String model = readModel(deviceTreeModel);
    if (model != null) {
      Optional<String> jetson = fromBoardModel(model, memTotalMb(meminfo));
      if (jetson.isPresent()) return new Detection(jetson.get(), deviceTreeModel + " says '" + model + "'");
    }
    if (gpuName != null) {
      Optional<String> server = fromGpuName(gpuName);
      if (server.isPresent()) return new Detection(server.get(), "CUDA device 0 is '" + gpuName + "'");
    }
    return new Detection(FALLBACK, model == null && gpuName == null
        ? "no Jetson device tree and no CUDA device" : "no profile matches board '" + model + "' / GPU '" + gpuName + "'");
  }

  /** Maps a {@code /proc/device-tree/model} string (NUL-terminated in the file) to a profile name. */
  static Optional<String> fromBoardModel(String model, long memMb) {
    String m = model.toLowerCase(Locale.ROOT);
    if (!m.contains("jetson")) return Optional.empty();
    boolean big = memMb > 0;
    if (m.contains("orin nano")) return Optional.of(big && memMb > 5000 ? "jetson-orin-nano-8gb" : "jetson-orin-nano-4gb");
    if (m.contains("orin nx")) return Optional.of(big && memMb > 10000 ? "jetson-orin-nx-16gb" : "jetson-orin-nx-8gb");
    if (m.contains("agx orin")) return Optional.of(big && memMb > 40000 ? "jetson-agx-orin-64gb" : "jetson-agx-orin-32gb");
    if (m.contains("xavier nx")) return Optional.of("jetson-xavier-nx");
    if (m.contains("agx xavier") || m.contains("jetson-agx")) return Optional.of("jetson-agx-xavier");
    if (m.contains("nano")) return Optional.of("jetson-nano");
    return Optional.empty();
  }

  /** Maps a CUDA device name to a server profile. */
  static Optional<String> fromGpuName(String gpuName) {
    String g = gpuName.toUpperCase(Locale.ROOT);
    if (g.contains("H200")) return Optional.of("server-h200");
    if (g.contains("H100")) return Optional.of("server-h100");
    return Optional.empty();
  }

  private static String readModel(Path file) {
    try {
      if (!Files.isRegularFile(file)) return null;
      String s = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).replace("\0", "").trim();
      return s.isEmpty() ? null : s;
    } catch (IOException | SecurityException e) {
      return null;
    }
  }

  static long memTotalMb(Path meminfo) {
    try {
      for (String line : Files.readAllLines(meminfo)) {
        if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}

package dev.splitrt.testsupport;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The device assembly ({@code tools/device-assembly}) built once per test JVM and platform into
 * {@code target/device/splitrt-edge-<platform>} (it takes ~30 s: dependency resolution and jlink), and
 * the arm64 emulation it runs under: Debian's qemu-aarch64-static and the sysroot of tools/arm64-sysroot.
 */
public final class DeviceAssembly {
  public static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  public static final Path QEMU = Path.of("/usr/bin/qemu-aarch64-static");
  private static final Map<String, DeviceAssembly> BUILT = new ConcurrentHashMap<>();

  public final Path dir;
  public final String output;
  public final Properties sizes = new Properties();

  private DeviceAssembly(Path dir, String output) throws IOException {
    this.dir = dir;
    this.output = output;
    sizes.load(new StringReader(Files.readString(dir.resolve("sizes.properties"))));
  }

  public double sizeMb(String key) {
    return Double.parseDouble(sizes.getProperty(key));
  }

  public static synchronized DeviceAssembly build(String platform) throws Exception {
    DeviceAssembly a = BUILT.get(platform);
    if (a != null) return a;
    Path out = REPO.resolve("target/device/splitrt-edge-" + platform);
    Process p = new ProcessBuilder(REPO.resolve("tools/device-assembly").toString(), "--platform", platform, "--out", out.toString())
        .directory(REPO.toFile()).redirectErrorStream(true).start();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) fail("tools/device-assembly --platform " + platform + " failed:\n" + text);
    System.out.print(text);
    a = new DeviceAssembly(out, text);
    BUILT.put(platform, a);
    return a;
  }

  /** The arm64 sysroot; skips the calling test (printing why) when it or qemu is absent, fails it on CI. */
  public static Path assumeArm64Emulation() throws Exception {
    String reason = null;
    Path sysroot = null;
    if (!Files.isExecutable(QEMU)) {
      reason = QEMU + " is not installed: install Debian's qemu-user-static (.ci/run does)";
    } else {
      Process p = new ProcessBuilder(REPO.resolve("tools/arm64-sysroot").toString(), "--print").start();
      sysroot = Path.of(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
      p.waitFor();
      if (!Files.isRegularFile(sysroot.resolve(".splitrt-sysroot")) || !Files.exists(sysroot.resolve("lib/ld-linux-aarch64.so.1"))) {
        reason = "no arm64 sysroot at " + sysroot + ": run tools/arm64-sysroot (.ci/run does)";
      }
    }
    if (reason == null) return sysroot;
    if ("true".equalsIgnoreCase(System.getenv("CI"))) fail(reason + " (CI=true, so this is a failure, not a skip)");
    System.out.println("SKIPPED: " + reason);
    Assumptions.assumeTrue(false, reason);
    return null;
  }
}

package dev.splitrt.profile;

import dev.splitrt.infer.BackendPreference;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OrtEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each Jetson profile states what runs on that board ({@code software.glibc}, {@code software.build});
 * this reads the GLIBC_ symbol versions the linux-arm64 natives of both build lines really need (the
 * jars the dependency plugin copies into target/arm64-natives, and ONNX Runtime's own jar) and fails
 * when a profile's build line would not load on its JetPack's glibc, or when a profile says
 * "unsupported" while some line would load.
 */
class JetsonGlibcTest {
  private static final Path SHIPPED = Path.of(System.getProperty("splitrt.repo", "..")).resolve("device-profiles");
  private static final Path NATIVES = Path.of(System.getProperty("splitrt.natives", "target/arm64-natives"));

  /** What a backend loads natively, besides the OpenCV / OpenBLAS / JavaCPP core every pipeline loads. */
  enum Part { core, onnxruntime, tensorrt }

  /** line → part → (library → newest glibc it needs). */
  private static final Map<DeviceProfile.BuildLine, Map<Part, Map<String, String>>> NEEDS = new EnumMap<>(DeviceProfile.BuildLine.class);

  @BeforeAll
  static void readTheJars() throws Exception {
    Path ort = Path.of(OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    for (DeviceProfile.BuildLine line : List.of(DeviceProfile.BuildLine.standard, DeviceProfile.BuildLine.jetpack6)) {
      Path dir = NATIVES.resolve(line.name());
      if (!Files.isDirectory(dir)) throw new AssertionError(dir + " is missing: run the test through Maven (generate-test-resources copies the jars)");
      Map<Part, Map<String, String>> parts = new EnumMap<>(Part.class);
      try (Stream<Path> jars = Files.list(dir)) {
        for (Path jar : jars.sorted().toList()) {
          String n = jar.getFileName().toString();
          Part p = n.startsWith("tensorrt-") || n.startsWith("cuda-") ? Part.tensorrt : Part.core;
          parts.computeIfAbsent(p, k -> new LinkedHashMap<>()).putAll(prefixed(n, ElfGlibc.newestPerLibrary(jar, "linux-arm64")));
        }
      }
      parts.put(Part.onnxruntime, prefixed(ort.getFileName().toString(), ElfGlibc.newestPerLibrary(ort, "linux-aarch64")));
      for (Part p : Part.values()) assertThat(parts.get(p)).as("%s %s natives found", line, p).isNotEmpty();
      NEEDS.put(line, parts);
    }
  }

  private static Map<String, String> prefixed(String jar, Map<String, String> libs) {
    Map<String, String> out = new LinkedHashMap<>();
    libs.forEach((k, v) -> out.put(jar + "!" + k.substring(k.lastIndexOf('/') + 1), v));
    return out;
  }

  static List<Part> parts(BackendPreference backend) {
    return switch (backend) {
      case onnxruntime -> List.of(Part.core, Part.onnxruntime);
      case tensorrt -> List.of(Part.core, Part.tensorrt);
      case auto -> List.of(Part.core, Part.tensorrt, Part.onnxruntime);   // TensorRT when it loads, else ONNX Runtime
    };
  }

  /** Libraries of {@code line} that {@code backend} loads and that need a glibc newer than {@code glibc}. */
  static List<String> tooNew(DeviceProfile.BuildLine line, BackendPreference backend, String glibc) {
    List<String> out = new ArrayList<>();
    for (Part p : parts(backend)) {
      NEEDS.get(line).get(p).forEach((lib, v) -> {
        if (DeviceProfiles.compareVersions(v, glibc) > 0) out.add(lib + " needs GLIBC_" + v);
      });
    }
    return out;
  }

  /** What is wrong with {@code p}'s claim, as sentences; empty when it holds. */
  static List<String> problems(DeviceProfile p) {
    DeviceProfile.Software sw = p.software();
    List<String> out = new ArrayList<>();
    if (!"aarch64".equals(p.arch()) || sw == null || sw.jetpack() == null) return out;
    String glibc = DeviceProfiles.jetpackGlibc(sw.jetpack());
    if (!glibc.equals(sw.glibc())) out.add(p.name() + ": JetPack " + sw.jetpack() + " ships glibc " + glibc + ", the profile says " + sw.glibc());
    if (sw.build() == DeviceProfile.BuildLine.none) {
      for (DeviceProfile.BuildLine line : NEEDS.keySet()) {
        if (tooNew(line, p.backend(), glibc).isEmpty()) {
          out.add(p.name() + ": says unsupported, but the " + line + " line's natives for backend " + p.backend() + " fit glibc " + glibc);
        }
      }
    } else {
      List<String> bad = tooNew(sw.build(), p.backend(), glibc);
      if (!bad.isEmpty()) {
        out.add(p.name() + ": backend " + p.backend() + " on the " + sw.build() + " line cannot load on JetPack " + sw.jetpack()
            + " (glibc " + glibc + "): " + bad);
      }
    }
    return out;
  }

  @Test
  void everyJetsonProfileClaimsOnlyWhatItsGlibcCanLoad() throws Exception {
    NEEDS.forEach((line, parts) -> parts.forEach((part, libs) -> System.out.printf("%s line, %s: newest glibc %s (%d libraries)%n",
        line, part, libs.values().stream().max(DeviceProfiles::compareVersions).orElseThrow(), libs.size())));
    DeviceProfiles profiles = new DeviceProfiles(SHIPPED);
    List<String> problems = new ArrayList<>();
    int jetsons = 0;
    for (String n : profiles.names()) {
      DeviceProfile p = profiles.load(n);
      if (p.arch().equals("aarch64")) jetsons++;
      problems.addAll(problems(p));
    }
    assertThat(jetsons).isGreaterThanOrEqualTo(9);
    assertThat(problems).isEmpty();
  }

  @Test
  void theCheckFailsWhenAProfileClaimsTooMuch() throws Exception {
    DeviceProfiles profiles = new DeviceProfiles(SHIPPED);
    DeviceProfile xavier = profiles.load("jetson-agx-xavier");
    DeviceProfile nano = profiles.load("jetson-nano");
    // Xavier (JetPack 5, glibc 2.31) on the standard line: OpenCV 4.13 needs 2.35.
    assertThat(problems(withBuild(xavier, DeviceProfile.BuildLine.standard, null)))
        .singleElement().asString().contains("standard line cannot load").contains("opencv-4.13.0").contains("GLIBC_2.35");
    // The Nano (JetPack 4.6, glibc 2.27) claiming the jetpack6 line with ONNX Runtime: 1.29 needs 2.28.
    assertThat(problems(withBuild(nano, DeviceProfile.BuildLine.jetpack6, null)))
        .singleElement().asString().contains("onnxruntime-1.29.0.jar").contains("GLIBC_2.28");
  }

  @Test
  void theBuildSelectsOneOfTheCheckedLines() {
    // The jars the build itself runs with are one of the two lines read above (-P jetpack6 or not).
    assertThat(System.getProperty("splitrt.javacpp.version")).isIn("1.5.13", "1.5.11");
    assertThat(NATIVES.resolve("standard").resolve("opencv-4.13.0-1.5.13-linux-arm64.jar")).isRegularFile();
    assertThat(NATIVES.resolve("jetpack6").resolve("opencv-4.10.0-1.5.11-linux-arm64.jar")).isRegularFile();
  }

  private static DeviceProfile withBuild(DeviceProfile p, DeviceProfile.BuildLine line, String unsupported) {
    DeviceProfile.Software s = p.software();
    return new DeviceProfile(p.name(), p.description(), p.board(), p.arch(), p.gpu(), p.precisions(), p.dlaCores(), p.memoryMb(),
        p.backend(), p.pipeline(), p.network(), p.soc(),
        new DeviceProfile.Software(s.jetpack(), s.tensorrtMin(), s.tensorrtMax(), s.cuda(), s.glibc(), line, unsupported),
        p.powerMode(), p.engine());
  }
}

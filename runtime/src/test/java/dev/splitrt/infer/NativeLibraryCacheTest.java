package dev.splitrt.infer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OrtEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime's natives are extracted once into the cache and never again into TMPDIR, even by a JVM that ends with
 * {@code Runtime.halt} as the daemons do after SIGTERM; the control child (ONNX Runtime's own loader) leaves its 28 MB
 * copy behind in the same situation, so this test fails if the cache stops being used.
 */
class NativeLibraryCacheTest {
  private static final List<String> ORT_LIBS = List.of("libonnxruntime.so", "libonnxruntime4j_jni.so");

  @TempDir Path dir;

  /** Loads ONNX Runtime as the runtime does (or, with "direct", as its own loader does), then halts like a daemon. */
  public static final class Child {
    public static void main(String[] args) throws Exception {
      if (args[0].equals("direct")) OrtEnvironment.getEnvironment();
      else OnnxRuntimeBackend.environment();
      System.out.println("loaded from " + System.getProperty("onnxruntime.native.path"));
      System.out.flush();
      Runtime.getRuntime().halt(0);
    }
  }

  record Run(List<Path> tmpFiles, String output) {}

  Run child(String name, String mode, Path cache) throws Exception {
    Path tmp = Files.createDirectories(dir.resolve(name + "-tmp"));
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Djava.io.tmpdir=" + tmp,
        "-Dsplitrt.native.cache=" + cache, "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
        Child.class.getName(), mode).redirectErrorStream(true);
    pb.environment().put("TMPDIR", tmp.toString());
    pb.environment().put(OnnxRuntimeBackend.TELEMETRY_OFF, "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    try (Stream<Path> s = Files.walk(tmp)) {
      return new Run(s.filter(Files::isRegularFile).toList(), out);
    }
  }

  @Test
  void aHaltedJvmLeavesNoLibraryCopyBehindAndTheSecondStartExtractsNothing() throws Exception {
    String platform = NativeLibraryCache.ortPlatform();
    Assumptions.assumeTrue(platform != null, "ONNX Runtime natives are cached for linux-x64 and linux-aarch64 only; this is "
        + System.getProperty("os.name") + "/" + System.getProperty("os.arch"));
    Path cache = dir.resolve("cache");
    Run first = child("first", "runtime", cache);
    Path folder;
    try (Stream<Path> s = Files.list(cache)) {
      folder = s.filter(f -> f.getFileName().toString().endsWith("-" + platform)).findFirst().orElseThrow();
    }
    assertThat(first.output()).contains("loaded from " + folder);
    assertThat(first.tmpFiles()).as("files left in TMPDIR").isEmpty();
    for (String lib : ORT_LIBS) assertThat(folder.resolve(lib)).isRegularFile();
    FileTime before = Files.getLastModifiedTime(folder.resolve("libonnxruntime.so"));
    Object key = Files.readAttributes(folder.resolve("libonnxruntime.so"), java.nio.file.attribute.BasicFileAttributes.class).fileKey();

    Run second = child("second", "runtime", cache);
    assertThat(second.tmpFiles()).isEmpty();
    assertThat(Files.getLastModifiedTime(folder.resolve("libonnxruntime.so"))).as("not written again").isEqualTo(before);
    assertThat(Files.readAttributes(folder.resolve("libonnxruntime.so"), java.nio.file.attribute.BasicFileAttributes.class).fileKey())
        .isEqualTo(key);

    Run control = child("control", "direct", dir.resolve("unused-cache"));
    assertThat(control.tmpFiles()).as("ONNX Runtime's own loader, halted: its copy stays in TMPDIR")
        .anyMatch(f -> f.getFileName().toString().equals("libonnxruntime.so"));
  }

  @Test
  void aDamagedCopyIsReplacedAndAMissingPlatformIsLeftToTheLibrary() throws Exception {
    String platform = NativeLibraryCache.ortPlatform();
    Assumptions.assumeTrue(platform != null, "no ONNX Runtime natives for " + System.getProperty("os.arch"));
    Path folder = dir.resolve("ort");
    String res = "/ai/onnxruntime/native/" + platform;
    assertThat(NativeLibraryCache.extract(OrtEnvironment.class, res, ORT_LIBS, folder)).contains(folder);
    long size = Files.size(folder.resolve("libonnxruntime.so"));
    Files.write(folder.resolve("libonnxruntime.so"), new byte[] {0x7f, 'E', 'L', 'F'}); // a torn copy (power cut mid-write)
    NativeLibraryCache.extract(OrtEnvironment.class, res, ORT_LIBS, folder);
    assertThat(Files.size(folder.resolve("libonnxruntime.so"))).isEqualTo(size);
    try (Stream<Path> s = Files.list(folder)) {
      assertThat(s.map(f -> f.getFileName().toString())).as("no temporary files left").containsExactlyInAnyOrderElementsOf(ORT_LIBS);
    }
    assertThat(NativeLibraryCache.extract(OrtEnvironment.class, "/ai/onnxruntime/native/sunos-sparc", ORT_LIBS, dir.resolve("none")))
        .isEmpty();
  }
}

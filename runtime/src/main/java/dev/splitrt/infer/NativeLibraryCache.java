package dev.splitrt.infer;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Native libraries that a jar carries, extracted once into a stable folder instead of into a new temp folder at every
 * start. Why: ONNX Runtime's Java loader copies its 28 MB library into {@code /tmp/onnxruntime-java*} on each start
 * and deletes it only in a {@code deleteOnExit} hook, which a daemon that ends through {@code Runtime.halt} (to exit
 * 0 after SIGTERM) or a power cut never runs: 242 copies, 5.4 GB, after a day of runs, and the copy is paid at
 * every start. The folder is {@code -Dsplitrt.native.cache}, else {@code $SPLITRT_NATIVE_CACHE}, else
 * {@code $XDG_CACHE_HOME/splitrt/native}, else {@code ~/.cache/splitrt/native}; one subfolder per library version and
 * platform. Files are written under a temporary name and renamed, so JVMs starting together never load a half file.
 */
public final class NativeLibraryCache {
  private static final Logger LOG = LoggerFactory.getLogger(NativeLibraryCache.class);

  private NativeLibraryCache() {}

  /** The cache root (see the class comment). */
  public static Path root() {
    String p = System.getProperty("splitrt.native.cache", System.getenv("SPLITRT_NATIVE_CACHE"));
    if (p != null && !p.isBlank()) return Path.of(p);
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("splitrt").resolve("native");
  }

  /**
   * Makes {@code folder} hold each of {@code names} as found under {@code resourceDir} on {@code owner}'s class path:
   * a file already there with the resource's size is kept, any other is replaced.
   *
   * @return the folder, or empty when a resource is missing (a platform the jar does not carry: the library's own
   *     loader then reports it in its own words)
   */
  static Optional<Path> extract(Class<?> owner, String resourceDir, List<String> names, Path folder) throws IOException {
    Files.createDirectories(folder);
    for (String name : names) {
      URL url = owner.getResource(resourceDir + "/" + name);
      if (url == null) return Optional.empty();
      URLConnection c = url.openConnection();
      c.setUseCaches(false); // a cached JarFile would stay open for the JVM's life
      long size = c.getContentLengthLong();
      Path target = folder.resolve(name);
      if (size >= 0 && Files.isRegularFile(target) && Files.size(target) == size) {
        c.getInputStream().close();
        continue;
      }
      Path tmp = Files.createTempFile(folder, "." + name, ".part");
      try (InputStream in = c.getInputStream()) {
        long copied = Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        if (size >= 0 && copied != size) {
          throw new IOException(url + ": read " + copied + " of " + size + " bytes; the jar may be damaged");
        }
        // A rename within one folder: atomic on every local file system (no copy fallback is ever needed).
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
    return Optional.of(folder);
  }

  /**
   * Points ONNX Runtime's loader ({@code onnxruntime.native.path}) at the cached copy of its libraries, extracting
   * them on first use. Call before any {@code ai.onnxruntime} class initialises. Leaves a path the user set alone; on
   * any failure (read-only home, full disk) logs why and lets ONNX Runtime extract to its temp folder as before.
   */
  static void useForOnnxRuntime() {
    if (System.getProperty("onnxruntime.native.path") != null) return;
    String platform = ortPlatform();
    if (platform == null) return;
    Class<?> owner;
    try {
      owner = Class.forName("ai.onnxruntime.OrtEnvironment", false, NativeLibraryCache.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      return; // no ONNX Runtime jar: Backends reports that
    }
    Path folder = root().resolve("onnxruntime-" + jarVersion(owner) + "-" + platform);
    try {
      extract(owner, "/ai/onnxruntime/native/" + platform, List.of("libonnxruntime.so", "libonnxruntime4j_jni.so"), folder)
          .ifPresent(f -> System.setProperty("onnxruntime.native.path", f.toString()));
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot cache ONNX Runtime's native libraries in {} ({}); it extracts them to a temp folder at each start instead. "
          + "Fix: make that folder writable, or set -Dsplitrt.native.cache=DIR", folder, e.toString());
    }
  }

  /** ONNX Runtime's name for this platform (its jar's native/ subfolder), for the Linux builds we ship; else null. */
  static String ortPlatform() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) return null;
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (arch.equals("amd64") || arch.equals("x86_64")) return "linux-x64";
    if (arch.equals("aarch64")) return "linux-aarch64";
    return null;
  }

  /** The jar's file name without .jar (it carries the version, e.g. onnxruntime-1.29.0), or "unversioned". */
  static String jarVersion(Class<?> owner) {
    try {
      var src = owner.getProtectionDomain().getCodeSource();
      if (src == null) return "unversioned";
      String file = Path.of(src.getLocation().toURI()).getFileName().toString();
      return file.endsWith(".jar") ? file.substring(0, file.length() - 4).replaceFirst("^onnxruntime-", "") : "unversioned";
    } catch (URISyntaxException | RuntimeException e) {
      return "unversioned";
    }
  }
}

package dev.splitrt.infer.tensorrt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A folder of serialized engines named by {@link EngineKey}. Each engine has a {@code .sha256}
 * sidecar (checked before TensorRT sees the bytes) and a {@code .key} sidecar (the key in text).
 * A file that is unreadable, truncated or altered is deleted and reported as absent: the caller
 * rebuilds. Writes go through a temporary file and a rename, so a crash never leaves half an engine.
 */
final class EngineCache {
  private static final Logger LOG = LoggerFactory.getLogger(EngineCache.class);

  private final Path dir;

  EngineCache(Path dir) {
    this.dir = dir;
  }

  /** ~/.cache/splitrt/engines unless {@code -Dsplitrt.engine.cache} or env {@code SPLITRT_ENGINE_CACHE} says otherwise. */
  static Path defaultDir() {
    String p = System.getProperty("splitrt.engine.cache", System.getenv("SPLITRT_ENGINE_CACHE"));
    if (p != null && !p.isBlank()) return Path.of(p);
    return Path.of(System.getProperty("user.home"), ".cache", "splitrt", "engines");
  }

  Path dir() {
    return dir;
  }

  Path path(EngineKey key, String modelId, String part) {
    return dir.resolve(key.fileName(modelId, part));
  }

  /** The engine's bytes when present and intact; a damaged entry is deleted (logged) and reported absent. */
  Optional<byte[]> read(Path engine) {
    if (!Files.isRegularFile(engine)) return Optional.empty();
    try {
      byte[] bytes = Files.readAllBytes(engine);
      Path sum = sidecar(engine, ".sha256");
      String expected = Files.isRegularFile(sum) ? Files.readString(sum).trim() : null;
      if (expected == null) {
        discard(engine, "its checksum file " + sum.getFileName() + " is missing");
        return Optional.empty();
      }
      if (!expected.equalsIgnoreCase(sha256(bytes))) {
        discard(engine, "its SHA-256 does not match " + sum.getFileName() + " (corrupted or truncated)");
        return Optional.empty();
      }
      return Optional.of(bytes);
    } catch (IOException e) {
      discard(engine, "it cannot be read (" + e.getMessage() + ")");
      return Optional.empty();
    }
  }

  void write(Path engine, byte[] plan, EngineKey key) throws IOException {
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, engine.getFileName().toString(), ".tmp");
    try {
      Files.write(tmp, plan);
      Files.writeString(sidecar(engine, ".key"), key.canonical());
      Files.writeString(sidecar(engine, ".sha256"), sha256(plan) + "\n");
      // A rename within the cache folder: atomic, so a reader never sees half a plan.
      Files.move(tmp, engine, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Deletes an engine and its sidecars, logging why; never throws. */
  void discard(Path engine, String why) {
    LOG.warn("engine cache: {} is unusable because {}; deleting it and rebuilding", engine, why);
    for (Path p : new Path[] {engine, sidecar(engine, ".sha256"), sidecar(engine, ".key")}) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        LOG.warn("engine cache: cannot delete {} ({}); it will be overwritten", p, e.getMessage());
      }
    }
  }

  static Path sidecar(Path engine, String suffix) {
    return engine.resolveSibling(engine.getFileName() + suffix);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from this JRE", e);
    }
  }
}

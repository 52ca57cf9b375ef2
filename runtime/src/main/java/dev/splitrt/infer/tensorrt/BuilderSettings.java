package dev.splitrt.infer.tensorrt;

import dev.splitrt.infer.InferenceException;
import dev.splitrt.profile.DeviceProfile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * What the TensorRT builder is told, resolved from the device profile and the requested precision.
 * {@code dlaCore < 0}: GPU only. {@code timingCache}: null for none (not part of the engine's
 * identity: it only speeds builds up, so it is left out of {@link #fingerprint()}).
 */
record BuilderSettings(String precision, String profile, int dlaCore, boolean gpuFallback, long workspaceBytes,
                       int optimizationLevel, Path timingCache) {
  static final Set<String> PRECISIONS = Set.of("fp32", "fp16", "int8");
  static final int DEFAULT_WORKSPACE_MB = 1024;
  static final int DEFAULT_OPTIMIZATION_LEVEL = 3;

  BuilderSettings {
    if (!PRECISIONS.contains(precision)) {
      throw new IllegalArgumentException("precision '" + precision + "' is not one of fp32, fp16, int8");
    }
  }

  /**
   * @param profile  null: no profile (all precisions allowed, defaults for everything else)
   * @param cacheDir where a relative {@code engine.timing_cache} is resolved
   */
  static BuilderSettings resolve(DeviceProfile profile, String precision, Path cacheDir) throws InferenceException {
    String prec = precision == null || precision.isBlank() ? "fp32" : precision.trim().toLowerCase(java.util.Locale.ROOT);
    if (!PRECISIONS.contains(prec)) {
      throw new InferenceException("precision '" + precision + "' is not one of fp32, fp16, int8; pass --precision fp32|fp16|int8");
    }
    if (profile == null) {
      return new BuilderSettings(prec, "none", -1, true, DEFAULT_WORKSPACE_MB * 1024L * 1024L, DEFAULT_OPTIMIZATION_LEVEL, null);
    }
    List<String> allowed = profile.precisions() == null ? List.of() : profile.precisions();
    if (!allowed.contains(prec)) {
      throw new InferenceException("device profile '" + profile.name() + "' does not allow precision " + prec
          + " (its 'precisions' are " + allowed + "); pick one of those or another profile");
    }
    DeviceProfile.EngineBuild e = profile.engine();
    int dla = e != null && e.dlaCore() != null ? e.dlaCore() : -1;
    boolean fallback = e == null || e.gpuFallback() == null || e.gpuFallback();
    long ws = (e != null && e.workspaceMb() != null ? e.workspaceMb() : DEFAULT_WORKSPACE_MB) * 1024L * 1024L;
    int level = e != null && e.builderOptimizationLevel() != null ? e.builderOptimizationLevel() : DEFAULT_OPTIMIZATION_LEVEL;
    Path tc = null;
    if (e != null && e.timingCache() != null) {
      Path p = Path.of(e.timingCache());
      tc = p.isAbsolute() ? p : cacheDir.resolve(p);
    }
    return new BuilderSettings(prec, profile.name(), dla, fallback, ws, level, tc);
  }

  /** Everything that changes the built engine, in a stable text form. */
  String fingerprint() {
    return "precision=" + precision + ";dla=" + dlaCore + ";gpuFallback=" + gpuFallback + ";workspace=" + workspaceBytes
        + ";opt=" + optimizationLevel + ";int8=strongly-typed-qdq;tf32=off";
  }

  String hash() {
    return sha256Hex(fingerprint());
  }

  static String sha256Hex(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from this JRE", e);
    }
  }
}

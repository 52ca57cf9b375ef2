package dev.splitrt.infer.tensorrt;

/**
 * The identity of a serialized engine: an engine is only valid for the same model bytes, the same
 * TensorRT release, the same GPU (name and compute capability), precision, profile and builder
 * settings. Any change gives another {@link #digest()}, hence another cache file, hence a rebuild.
 */
record EngineKey(String modelSha256, String tensorrtVersion, String gpuName, String sm, String precision,
                 String profile, String settingsHash) {
  EngineKey {
    for (String s : new String[] {modelSha256, tensorrtVersion, gpuName, sm, precision, profile, settingsHash}) {
      if (s == null || s.isBlank()) {
        throw new IllegalArgumentException("every engine key component must be set (model sha256, TensorRT version, GPU, SM, "
            + "precision, profile, settings hash); got " + java.util.Arrays.asList(
                modelSha256, tensorrtVersion, gpuName, sm, precision, profile, settingsHash));
      }
    }
  }

  /** The canonical text that is hashed, also written beside the engine so a person can read it. */
  String canonical() {
    return "model_sha256=" + modelSha256.toLowerCase(java.util.Locale.ROOT) + "\ntensorrt=" + tensorrtVersion + "\ngpu=" + gpuName
        + "\nsm=" + sm + "\nprecision=" + precision + "\nprofile=" + profile + "\nsettings=" + settingsHash + "\n";
  }

  String digest() {
    return BuilderSettings.sha256Hex(canonical());
  }

  /** {@code <model>-<part>-<precision>-<16 hex digits>.engine}: readable and unique per key. */
  String fileName(String modelId, String part) {
    return safe(modelId) + "-" + safe(part) + "-" + precision + "-" + digest().substring(0, 16) + ".engine";
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}

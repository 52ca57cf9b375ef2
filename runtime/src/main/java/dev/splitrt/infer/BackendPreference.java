package dev.splitrt.infer;

/**
 * Which inference backend a device profile asks for ({@code backend:} in the profile YAML); {@link Backends#select}
 * turns it into a loaded backend. Here, not in the profile, so that inference depends on no profile type.
 */
public enum BackendPreference {
  /** TensorRT when it loads here, else ONNX Runtime. */
  auto,
  tensorrt,
  onnxruntime
}

package dev.splitrt.infer;

import java.util.Optional;

/**
 * A way to run ONNX model parts (ONNX Runtime CPU, TensorRT...). Found through
 * {@link java.util.ServiceLoader}; {@link Backends} picks one.
 */
public interface InferenceBackend {
  /** Stable name used in configs: "onnxruntime", "tensorrt". */
  String name();

  /** Empty when this backend can run here; otherwise why not (logged once by {@link Backends}). */
  Optional<String> unavailableReason();

  InferenceSession open(ModelPartRef part, SessionOptions options) throws InferenceException;
}

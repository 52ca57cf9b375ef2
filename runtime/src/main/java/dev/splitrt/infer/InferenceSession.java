package dev.splitrt.infer;

import java.nio.FloatBuffer;

/**
 * One loaded model part (head or tail) on one backend. Single input, single output (v1).
 * Buffers are allocated once: fill {@link #input()}, call {@link #run()}, read the returned buffer
 * before the next run. Not thread-safe: one session per worker thread. Owns native memory: close it.
 */
public interface InferenceSession extends AutoCloseable {
  TensorSpec inputSpec();

  TensorSpec outputSpec();

  /** Direct, native-order buffer of {@code inputSpec().elementCount()} floats, reused across runs. */
  FloatBuffer input();

  /** Runs on the current contents of {@link #input()}; returns the reused output buffer (position 0). */
  FloatBuffer run() throws InferenceException;

  /** The backend that runs this session, for logs and results ("onnxruntime-cpu", "tensorrt-fp16"...). */
  String backendName();

  @Override
  void close();
}

package dev.splitrt.infer.tensorrt;

import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;

/** CUDA runtime error codes to exceptions that name the call. */
final class Cuda {
  private Cuda() {}

  static void check(int err, String what) {
    if (err != 0) throw new CudaException(what + " failed: CUDA error " + err + " (" + cudaGetErrorString(err).getString() + ")");
  }

  static final class CudaException extends RuntimeException {
    CudaException(String message) {
      super(message);
    }
  }
}

package dev.splitrt.infer.tensorrt;

import java.util.Optional;

/**
 * Tries once per JVM to load TensorRT and CUDA and remembers the outcome. Loading the JavaCPP
 * TensorRT classes without the native libraries throws {@link UnsatisfiedLinkError} the first time
 * and {@link NoClassDefFoundError} ever after, so the outcome must be cached, and every
 * {@link Throwable} is caught.
 */
final class NativeProbe {
  private static Result result;

  record Result(TrtRuntime runtime, String reason) {
    Optional<String> unavailable() {
      return Optional.ofNullable(reason);
    }
  }

  private NativeProbe() {}

  static synchronized Result get() {
    if (result == null) result = attempt();
    return result;
  }

  /** One real attempt, uncached (tests call it twice to show the second failure is caught too). */
  static Result attempt() {
    try {
      return new Result(TrtRuntime.create(), null);
    } catch (Throwable t) {
      return new Result(null, describe(t));
    }
  }

  static String describe(Throwable t) {
    if (t instanceof UnsatisfiedLinkError) {
      return "TensorRT/CUDA native libraries did not load (" + t.getMessage() + "); needs libnvinfer.so.10, "
          + "libnvonnxparser.so.10 and the CUDA runtime on the library path (JetPack 6 on Orin; on x86-64 see tools/gpu/trt-run.sh)";
    }
    if (t instanceof NoClassDefFoundError || t instanceof ExceptionInInitializerError) {
      return "TensorRT classes could not be initialised (" + t + "); an earlier load attempt in this JVM failed";
    }
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }
}

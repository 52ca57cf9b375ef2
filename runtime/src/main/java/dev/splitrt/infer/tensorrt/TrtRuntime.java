package dev.splitrt.infer.tensorrt;

import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.tensorrt.global.nvinfer.createInferBuilder;
import static org.bytedeco.tensorrt.global.nvinfer.createInferRuntime;
import static org.bytedeco.tensorrt.global.nvinfer.getInferLibBuildVersion;
import static org.bytedeco.tensorrt.global.nvinfer.getInferLibMajorVersion;
import static org.bytedeco.tensorrt.global.nvinfer.getInferLibMinorVersion;
import static org.bytedeco.tensorrt.global.nvinfer.getInferLibPatchVersion;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.ILogger;
import org.bytedeco.tensorrt.nvinfer.IRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process-wide TensorRT state: the logger TensorRT calls back into, one {@code IRuntime}, one
 * lazily created {@code IBuilder} (creating it loads the builder resource, seconds on TensorRT
 * 10.6), and what was learnt about the GPU. Created once by {@link NativeProbe}; lives until the JVM
 * exits (JavaCPP attaches no C++ deleter to TensorRT interface pointers, see
 * bytedeco/javacpp-presets#1699, so these are kept rather than re-created).
 */
final class TrtRuntime {
  private static final Logger LOG = LoggerFactory.getLogger("dev.splitrt.infer.tensorrt.TensorRT");

  final TrtLogger logger;
  final IRuntime runtime;
  final String tensorrtVersion;
  final String gpuName;
  final String sm;
  final long gpuMemoryBytes;
  final String cudaVersions;
  private IBuilder builder;

  private TrtRuntime(TrtLogger logger, IRuntime runtime, String version, String gpuName, String sm, long mem, String cuda) {
    this.logger = logger;
    this.runtime = runtime;
    this.tensorrtVersion = version;
    this.gpuName = gpuName;
    this.sm = sm;
    this.gpuMemoryBytes = mem;
    this.cudaVersions = cuda;
  }

  /** Loads the native libraries and queries device 0; throws (any Throwable) when that is impossible here. */
  static TrtRuntime create() {
    int[] v = new int[1];
    int err = cudaGetDeviceCount(v);
    if (err != 0 || v[0] < 1) {
      throw new IllegalStateException("no CUDA device (cudaGetDeviceCount: " + (err != 0 ? cudaGetErrorString(err).getString() : "0 devices") + ")");
    }
    cudaDeviceProp prop = new cudaDeviceProp();
    Cuda.check(cudaGetDeviceProperties(prop, 0), "cudaGetDeviceProperties");
    String name = prop.name().getString().trim();
    String sm = prop.major() + "." + prop.minor();
    long mem = prop.totalGlobalMem();
    int major = prop.major();
    prop.close();
    if (major < 7 && !"true".equals(System.getProperty("splitrt.tensorrt.anySm"))) {
      throw new IllegalStateException("GPU '" + name + "' has SM " + sm + "; TensorRT 10 needs SM >= 7.0");
    }
    cudaRuntimeGetVersion(v);
    int rt = v[0];
    cudaDriverGetVersion(v);
    String cuda = "runtime " + rt + ", driver " + v[0];
    TrtLogger logger = new TrtLogger();
    IRuntime runtime = createInferRuntime(logger);
    if (runtime == null || runtime.isNull()) throw new IllegalStateException("createInferRuntime returned null: " + logger.lastErrors());
    String version = getInferLibMajorVersion() + "." + getInferLibMinorVersion() + "." + getInferLibPatchVersion() + "." + getInferLibBuildVersion();
    TrtRuntime r = new TrtRuntime(logger, runtime, version, name, sm, mem, cuda);
    LOG.info("TensorRT {} on '{}' (SM {}, {} MiB), CUDA {}", version, name, sm, mem >> 20, cuda);
    return r;
  }

  /** The shared builder, created on first use (the call that loads the builder resource). */
  synchronized IBuilder builder() {
    if (builder == null) {
      long t0 = System.nanoTime();
      IBuilder b = createInferBuilder(logger);
      if (b == null || b.isNull()) throw new IllegalStateException("createInferBuilder returned null: " + logger.lastErrors()
          + " (is libnvinfer_builder_resource on the library path?)");
      LOG.info("TensorRT builder ready in {} ms", (System.nanoTime() - t0) / 1_000_000);
      builder = b;
    }
    return builder;
  }

  /**
   * Routes TensorRT's messages to SLF4J and keeps the last errors for exception messages. A listener
   * (the build progress display) can see INFO messages while a build runs.
   */
  static final class TrtLogger extends ILogger {
    private final Deque<String> errors = new ArrayDeque<>();
    private volatile Consumer<String> listener;

    @Override
    public void log(Severity severity, String msg) {
      int s = severity.value;
      if (s <= Severity.kERROR.value) {
        LOG.error("{}", msg);
        synchronized (errors) {
          errors.addLast(msg);
          while (errors.size() > 8) errors.removeFirst();
        }
      } else if (s == Severity.kWARNING.value) {
        LOG.warn("{}", msg);
      } else if (s == Severity.kINFO.value) {
        LOG.debug("{}", msg);
      } else {
        LOG.trace("{}", msg);
      }
      Consumer<String> l = listener;
      if (l != null && s <= Severity.kINFO.value) l.accept(msg);
    }

    /** Sends TensorRT's INFO and more severe messages to {@code l} as well (null: stop). */
    void listen(Consumer<String> l) {
      listener = l;
    }

    /** The errors logged since the last call, oldest first; empty string when none. */
    String lastErrors() {
      synchronized (errors) {
        List<String> copy = new ArrayList<>(errors);
        errors.clear();
        return copy.isEmpty() ? "(TensorRT logged no error)" : String.join(" | ", copy);
      }
    }
  }
}

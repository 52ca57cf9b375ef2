package dev.splitrt.infer;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ONNX Runtime on the CPU: runs everywhere the native library loads; the fallback when TensorRT cannot.
 * Public only because {@link java.util.ServiceLoader} instantiates class-path providers only when the
 * class and its no-argument constructor are public; obtain it through {@link Backends}.
 */
public final class OnnxRuntimeBackend implements InferenceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxRuntimeBackend.class);

  /** The one OrtEnvironment of the JVM, created on first use (loads the native library). */
  private static final class Env {
    static final Object LOCK = new Object();
    static OrtEnvironment env;
    static String failure;

    static OrtEnvironment get() throws InferenceException {
      synchronized (LOCK) {
        if (env == null && failure == null) {
          try {
            NativeLibraryCache.useForOnnxRuntime();
            env = OrtEnvironment.getEnvironment();
            noPhoningHome(env);
          } catch (Throwable t) { // UnsatisfiedLinkError, ExceptionInInitializerError...: report, don't crash
            failure = "the ONNX Runtime native library does not load on " + System.getProperty("os.name") + "/"
                + System.getProperty("os.arch") + " (" + t + ")";
          }
        }
        if (env == null) throw new InferenceException(failure);
        return env;
      }
    }
  }

  /** The environment variable that keeps ONNX Runtime's telemetry system from starting at all (read by its native code). */
  public static final String TELEMETRY_OFF = "ORT_DISABLE_TELEMETRY";

  /**
   * ONNX Runtime 1.29 (Linux) starts a telemetry system when the environment is created: it writes
   * {@code $TMPDIR/mat-debug-<pid>.log} and {@code ~/.cache/Microsoft/DeveloperTools/.onnxruntime/}
   * ({@code deviceid}, {@code onnxruntime.db}). Measured: {@code setTelemetry(false)} after creation stops
   * events but not those files; only {@value #TELEMETRY_OFF}=1 in the process environment prevents them,
   * and a JVM cannot set its own environment, so the launcher ({@code tools/splitrt}), the device's
   * systemd unit and the test JVMs set it. Here: events off, and one WARN when the variable is missing.
   */
  static void noPhoningHome(OrtEnvironment env) {
    try {
      env.setTelemetry(false);
    } catch (Exception e) {
      LOG.debug("ONNX Runtime setTelemetry(false): {}", e.toString());
    }
    if (!"1".equals(System.getenv(TELEMETRY_OFF))) {
      LOG.warn("{} is not set to 1: ONNX Runtime writes telemetry files ({}/mat-debug-{}.log, ~/.cache/Microsoft/DeveloperTools/"
          + ".onnxruntime/); start through tools/splitrt or the provisioned systemd unit, or export {}=1", TELEMETRY_OFF,
          System.getenv().getOrDefault("TMPDIR", "/tmp"), ProcessHandle.current().pid(), TELEMETRY_OFF);
    }
  }

  /**
   * The JVM's one ONNX Runtime environment (native libraries from {@link NativeLibraryCache}, telemetry off), for
   * tooling that runs ONNX Runtime directly (quantization); the first call loads the native library.
   */
  public static OrtEnvironment environment() throws InferenceException {
    return Env.get();
  }

  /** For {@link java.util.ServiceLoader}, which needs a public no-argument constructor. */
  public OnnxRuntimeBackend() {}

  @Override
  public String name() {
    return "onnxruntime";
  }

  @Override
  public Optional<String> unavailableReason() {
    try {
      Env.get();
      return Optional.empty();
    } catch (InferenceException e) {
      return Optional.of(e.getMessage());
    }
  }

  @Override
  public InferenceSession open(ModelPartRef part, SessionOptions options) throws InferenceException {
    if (!Files.isRegularFile(part.file())) {
      throw new InferenceException(part.file() + ": " + part.modelId() + " " + part.part()
          + " file not found; fix: load the model through ModelRegistry, which checks its files");
    }
    OrtEnvironment env = Env.get();
    if (options.precision() != null && !"fp32".equals(options.precision())) {
      LOG.warn("{} {}: onnxruntime-cpu runs the graph as exported (fp32); precision '{}' applies to TensorRT only",
          part.modelId(), part.part(), options.precision());
    }
    OrtSession session;
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      so.setInterOpNumThreads(1);
      if (options.threads() > 0) so.setIntraOpNumThreads(options.threads());
      session = env.createSession(part.file().toString(), so);
    } catch (OrtException e) {
      throw new InferenceException(part.file() + ": ONNX Runtime cannot load the " + part.part() + " graph ("
          + e.getMessage() + "); fix: restore the file or re-export it with the model's recipe", e);
    }
    try {
      return new OnnxRuntimeSession(env, session, part);
    } catch (InferenceException | RuntimeException e) {
      try {
        session.close();
      } catch (OrtException ignored) {
        // the session is unusable anyway; report the first problem
      }
      throw e;
    }
  }
}

package dev.splitrt.infer.tensorrt;

import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.profile.DeviceProfile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs model parts through TensorRT 10 (JavaCPP presets), the reason SplitRT exists on Jetsons.
 * ONNX is compiled to an engine once per (model bytes, TensorRT version, GPU, precision, profile,
 * builder settings) and kept in an engine cache folder; a damaged or stale engine is rebuilt,
 * never fatal. Registered for {@link java.util.ServiceLoader} under the name {@code tensorrt}; where
 * TensorRT or a GPU is missing, {@link #unavailableReason()} says why and selection falls back.
 */
public final class TensorRtBackend implements InferenceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(TensorRtBackend.class);

  private final DeviceProfile profile;
  private final EngineCache cache;

  /** For {@link java.util.ServiceLoader}: no profile (defaults), the default cache folder. */
  public TensorRtBackend() {
    this(null, EngineCache.defaultDir());
  }

  /**
   * @param profile  the device profile whose {@code engine} settings and {@code precisions} apply; null for defaults
   * @param cacheDir the engine cache folder
   */
  public TensorRtBackend(DeviceProfile profile, Path cacheDir) {
    this.profile = profile;
    this.cache = new EngineCache(Objects.requireNonNull(cacheDir, "cacheDir"));
  }

  @Override
  public String name() {
    return "tensorrt";
  }

  @Override
  public Optional<String> unavailableReason() {
    return NativeProbe.get().unavailable();
  }

  /** CUDA device 0's name when TensorRT loaded here (for {@link dev.splitrt.profile.DeviceDetector}), else empty. */
  public Optional<String> cudaDeviceName() {
    NativeProbe.Result r = NativeProbe.get();
    return r.runtime() == null ? Optional.empty() : Optional.of(r.runtime().gpuName);
  }

  /** The TensorRT library version that loaded ("10.6.0.26"), else empty. */
  public Optional<String> tensorrtVersion() {
    NativeProbe.Result r = NativeProbe.get();
    return r.runtime() == null ? Optional.empty() : Optional.of(r.runtime().tensorrtVersion);
  }

  /** The engine cache folder this backend reads and writes. */
  public Path cacheDir() {
    return cache.dir();
  }

  @Override
  public InferenceSession open(ModelPartRef part, SessionOptions options) throws InferenceException {
    return open(part, options, msg -> LOG.info("{}", msg));
  }

  /** As {@link #open(ModelPartRef, SessionOptions)}, with build progress sent to {@code progress}. */
  public InferenceSession open(ModelPartRef part, SessionOptions options, Consumer<String> progress) throws InferenceException {
    TrtRuntime rt = runtime();
    String precision = options == null ? "fp32" : options.precision();
    Loaded l = loadOrBuild(rt, part, BuilderSettings.resolve(profile, precision, cache.dir()), false, progress);
    return new TrtSession(rt, l.engine, part, l.settings.precision());
  }

  /**
   * Makes sure the engine for {@code part} at {@code precision} is in the cache (building it when
   * absent, stale or damaged; always when {@code rebuild}) and reports on it.
   */
  public EngineReport build(ModelPartRef part, String precision, boolean rebuild, Consumer<String> progress) throws InferenceException {
    TrtRuntime rt = runtime();
    BuilderSettings s = BuilderSettings.resolve(profile, precision, cache.dir());
    Loaded l = loadOrBuild(rt, part, s, rebuild, progress);
    try {
      String json = EngineInspection.json(l.engine);
      List<EngineReport.Layer> layers = EngineInspection.parse(json);
      return new EngineReport(l.file, l.fromCache, l.buildMillis, l.loadMillis, l.bytes, rt.tensorrtVersion, rt.gpuName, rt.sm,
          s.precision(), s.profile(), EngineInspection.summary(layers), layers, json);
    } finally {
      l.engine.deallocate();
    }
  }

  private TrtRuntime runtime() throws InferenceException {
    NativeProbe.Result r = NativeProbe.get();
    if (r.runtime() == null) throw new InferenceException("TensorRT is not usable here: " + r.reason());
    return r.runtime();
  }

  private record Loaded(ICudaEngine engine, BuilderSettings settings, Path file, boolean fromCache, long buildMillis,
                        long loadMillis, long bytes) {}

  EngineKey key(TrtRuntime rt, ModelPartRef part, BuilderSettings s) {
    return new EngineKey(part.sha256(), rt.tensorrtVersion, rt.gpuName, rt.sm, s.precision(), s.profile(), s.hash());
  }

  private Loaded loadOrBuild(TrtRuntime rt, ModelPartRef part, BuilderSettings s, boolean rebuild, Consumer<String> progress)
      throws InferenceException {
    EngineKey key = key(rt, part, s);
    Path file = cache.path(key, part.modelId(), part.part());
    if (!rebuild) {
      long t0 = System.nanoTime();
      Optional<byte[]> cached = cache.read(file);
      if (cached.isPresent()) {
        ICudaEngine e = deserialize(rt, cached.get());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (e != null) {
          progress.accept("engine cache hit: " + file + " (" + cached.get().length + " bytes, loaded in " + ms + " ms)");
          return new Loaded(e, s, file, true, 0, ms, cached.get().length);
        }
        cache.discard(file, "TensorRT could not deserialize it (" + rt.logger.lastErrors() + ")");
      }
    }
    EngineBuilder.Built b = EngineBuilder.build(rt, part, s, progress);
    try {
      cache.write(file, b.plan(), key);
    } catch (IOException e) {
      LOG.warn("engine cache: cannot write {} ({}); the engine is used but will be rebuilt next start", file, e.getMessage());
    }
    long t0 = System.nanoTime();
    ICudaEngine e = deserialize(rt, b.plan());
    if (e == null) {
      throw new InferenceException("TensorRT built " + part.file() + " but cannot deserialize the result: " + rt.logger.lastErrors());
    }
    return new Loaded(e, s, file, false, b.millis(), (System.nanoTime() - t0) / 1_000_000, b.plan().length);
  }

  private static ICudaEngine deserialize(TrtRuntime rt, byte[] plan) {
    BytePointer p = new BytePointer(plan);
    try {
      ICudaEngine e = rt.runtime.deserializeCudaEngine(p, plan.length);
      return e == null || e.isNull() ? null : e;
    } finally {
      p.deallocate();
    }
  }
}

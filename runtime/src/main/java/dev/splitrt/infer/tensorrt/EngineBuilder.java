package dev.splitrt.infer.tensorrt;

import static org.bytedeco.tensorrt.global.nvonnxparser.createParser;

import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.ModelPartRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer.BuilderFlag;
import org.bytedeco.tensorrt.global.nvinfer.DeviceType;
import org.bytedeco.tensorrt.global.nvinfer.LayerType;
import org.bytedeco.tensorrt.global.nvinfer.MemoryPoolType;
import org.bytedeco.tensorrt.global.nvinfer.NetworkDefinitionCreationFlag;
import org.bytedeco.tensorrt.global.nvinfer.ProfilingVerbosity;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.ILogger;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.ITimingCache;
import org.bytedeco.tensorrt.nvonnxparser.IParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** ONNX file to serialized engine (plan bytes) with the given settings. One build at a time per process. */
final class EngineBuilder {
  private static final Logger LOG = LoggerFactory.getLogger(EngineBuilder.class);

  record Built(byte[] plan, long millis) {}

  private EngineBuilder() {}

  static Built build(TrtRuntime rt, ModelPartRef part, BuilderSettings s, Consumer<String> progress) throws InferenceException {
    synchronized (rt) {
      return buildLocked(rt, part, s, progress);
    }
  }

  private static Built buildLocked(TrtRuntime rt, ModelPartRef part, BuilderSettings s, Consumer<String> progress)
      throws InferenceException {
    String what = part.modelId() + "/" + part.part() + " (" + s.precision() + ", profile " + s.profile() + ")";
    IBuilder builder = rt.builder();
    boolean int8 = s.precision().equals("int8");
    int flags = int8 ? 1 << NetworkDefinitionCreationFlag.kSTRONGLY_TYPED.value : 0;
    INetworkDefinition network = builder.createNetworkV2(flags);
    IParser parser = createParser(network, rt.logger);
    IBuilderConfig config = null;
    ScheduledExecutorService ticker = null;
    try {
      if (!parser.parseFromFile(part.file().toString(), ILogger.Severity.kWARNING.value)) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parser.getNbErrors(); i++) sb.append(i > 0 ? "; " : "").append(parser.getError(i).desc());
        throw new InferenceException(part.file() + ": the TensorRT ONNX parser rejected it: " + sb
            + "; check the file with onnx.checker or export with a lower opset");
      }
      if (int8 && !hasQdq(network)) {
        throw new InferenceException(part.file() + ": int8 engines are built only from Q/DQ (explicitly quantized) models, and this "
            + "one has no QuantizeLinear/DequantizeLinear; fix: make a Q/DQ copy with 'splitrt quantize --model " + part.modelId()
            + " --part " + part.part() + " --activations int8 --out FILE' and build that (splitrt engine build --onnx FILE), "
            + "or use --precision fp16");
      }
      config = builder.createBuilderConfig();
      config.setMemoryPoolLimit(MemoryPoolType.kWORKSPACE, s.workspaceBytes());
      config.setBuilderOptimizationLevel(s.optimizationLevel());
      config.setProfilingVerbosity(ProfilingVerbosity.kDETAILED);
      // TensorRT enables TF32 by default on Ampere and later: FP32 engines then miss ONNX Runtime by 1e-2.
      config.clearFlag(BuilderFlag.kTF32);
      if (s.precision().equals("fp16")) {
        if (!builder.platformHasFastFp16()) LOG.warn("{}: this GPU has no fast FP16; the engine may be slower than FP32", what);
        config.setFlag(BuilderFlag.kFP16);
      }
      if (s.dlaCore() >= 0) {
        int n = builder.getNbDLACores();
        if (s.dlaCore() >= n) {
          throw new InferenceException("profile " + s.profile() + " asks for DLA core " + s.dlaCore() + " but this device has "
              + n + " DLA cores; remove 'engine.dla_core' or use the right profile");
        }
        config.setDefaultDeviceType(DeviceType.kDLA);
        config.setDLACore(s.dlaCore());
        if (s.gpuFallback()) config.setFlag(BuilderFlag.kGPU_FALLBACK);
      }
      ITimingCache cache = timingCache(config, s.timingCache());
      if (cache != null && !config.setTimingCache(cache, false)) LOG.warn("{}: TensorRT refused the timing cache; building without it", what);
      progress.accept("building " + what + " on " + rt.gpuName + " (TensorRT " + rt.tensorrtVersion + ")");
      long t0 = System.nanoTime();
      ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "trt-build-progress");
        t.setDaemon(true);
        return t;
      });
      ticker.scheduleAtFixedRate(() -> progress.accept(String.format("  ... building %s: %.0f s", what, (System.nanoTime() - t0) / 1e9)),
          2, 2, TimeUnit.SECONDS);
      rt.logger.listen(msg -> progress.accept("  trt: " + msg));
      IHostMemory plan;
      try {
        plan = builder.buildSerializedNetwork(network, config);
      } finally {
        rt.logger.listen(null);
      }
      long millis = (System.nanoTime() - t0) / 1_000_000;
      ticker.shutdownNow();
      if (plan == null || plan.isNull() || plan.size() == 0) {
        throw new InferenceException("TensorRT could not build " + what + " from " + part.file() + ": " + rt.logger.lastErrors());
      }
      byte[] bytes = new byte[Math.toIntExact(plan.size())];
      new BytePointer(plan.data()).capacity(plan.size()).limit(plan.size()).get(bytes);
      plan.deallocate();
      saveTimingCache(config, s.timingCache());
      progress.accept(String.format("built %s in %.1f s, %d bytes", what, millis / 1e3, bytes.length));
      return new Built(bytes, millis);
    } finally {
      if (ticker != null) ticker.shutdownNow();
      if (config != null) config.deallocate();
      parser.deallocate();
      network.deallocate();
    }
  }

  private static boolean hasQdq(INetworkDefinition network) {
    for (int i = 0; i < network.getNbLayers(); i++) {
      int t = network.getLayer(i).getType().value;
      if (t == LayerType.kQUANTIZE.value || t == LayerType.kDEQUANTIZE.value) return true;
    }
    return false;
  }

  private static ITimingCache timingCache(IBuilderConfig config, Path file) {
    if (file == null) return null;
    byte[] blob = null;
    try {
      if (Files.isRegularFile(file)) blob = Files.readAllBytes(file);
    } catch (IOException e) {
      LOG.warn("timing cache {} cannot be read ({}); starting an empty one", file, e.getMessage());
    }
    if (blob != null && blob.length > 0) {
      BytePointer p = new BytePointer(blob);
      ITimingCache c = config.createTimingCache(p, blob.length);
      p.deallocate();
      if (c != null && !c.isNull()) return c;
      LOG.warn("timing cache {} was rejected by TensorRT; starting an empty one", file);
    }
    return config.createTimingCache(new Pointer(), 0);
  }

  private static void saveTimingCache(IBuilderConfig config, Path file) {
    if (file == null) return;
    ITimingCache c = config.getTimingCache();
    if (c == null || c.isNull()) return;
    IHostMemory m = c.serialize();
    if (m == null || m.isNull()) return;
    byte[] bytes = new byte[Math.toIntExact(m.size())];
    new BytePointer(m.data()).capacity(m.size()).limit(m.size()).get(bytes);
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(tmp, bytes);
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      LOG.warn("timing cache {} cannot be written ({}); the next build starts without it", file, e.getMessage());
    }
  }
}

package dev.splitrt.cli;

import dev.splitrt.config.Yaml;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.infer.TensorSpec;
import dev.splitrt.infer.tensorrt.EngineReport;
import dev.splitrt.infer.tensorrt.TensorRtBackend;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.profile.DeviceDetector;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code splitrt engine build}: a trtexec-like front end to the TensorRT backend and its engine cache. */
@Command(name = "engine", mixinStandardHelpOptions = true, subcommands = EngineCommand.Build.class,
    description = "Build, inspect and benchmark TensorRT engines for the zoo's model parts.")
final class EngineCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (try 'splitrt engine build --help')");
  }

  enum Part { head, tail }

  @Command(name = "build", mixinStandardHelpOptions = true,
      description = "Build (or reuse from the engine cache) the engine of one model part; print build time, engine size, "
          + "per-layer precision and, with --bench, latency percentiles.")
  static final class Build implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "ID", description = "Model id (a folder under models/).")
    String model;

    @Option(names = "--part", required = true, paramLabel = "head|tail", description = "Which part: ${COMPLETION-CANDIDATES}.")
    Part part;

    @Option(names = "--profile", paramLabel = "NAME", description = "Device profile (default: detected from the board or GPU).")
    String profile;

    @Option(names = "--precision", paramLabel = "fp32|fp16|int8", defaultValue = "fp16", description = "Engine precision (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--bench", paramLabel = "N", defaultValue = "0", description = "Run N timed inferences after a warm-up and print percentiles.")
    int bench;

    @Option(names = "--rebuild", description = "Build even when the cache holds a valid engine.")
    boolean rebuild;

    @Option(names = "--layers", description = "Print every layer with its type and precision.")
    boolean layers;

    @Option(names = "--cache", paramLabel = "DIR", description = "Engine cache folder (default: ~/.cache/splitrt/engines).")
    Path cache;

    @Option(names = "--models", paramLabel = "DIR", description = "Model zoo folder (default: the repository's models/).")
    Path models;

    @Option(names = "--onnx", paramLabel = "FILE", description = "Build this ONNX file instead of the manifest's part: a Q/DQ "
        + "copy from 'splitrt quantize --activations int8' for --precision int8 (same input and output as the part).")
    Path onnx;

    @Option(names = "--profiles", paramLabel = "DIR", description = "Device profile folder (default: the repository's device-profiles/).")
    Path profiles;

    @Override
    public Integer call() throws Exception {
      if (bench < 0) throw new IllegalArgumentException("--bench must be >= 0");
      Path dir = (models != null ? models : RepoPaths.models()).resolve(model);
      ModelManifest m = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class);
      ModelManifest.Part p = part == Part.head ? m.head() : m.tail();
      Path file = onnx != null ? onnx : dir.resolve(p.file());
      if (!Files.isRegularFile(file)) {
        System.err.println(file + ": no such file; fix: pass the ONNX file 'splitrt quantize --out' wrote");
        return 1;
      }
      String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
      if (onnx == null && !sha.equalsIgnoreCase(p.sha256())) {
        System.err.println(file + ": SHA-256 is " + sha + " but model.yaml says " + p.sha256() + "; restore the file or fix the manifest");
        return 1;
      }
      // The engine cache is keyed by the bytes built: a Q/DQ copy gets engines of its own.
      ModelPartRef ref = new ModelPartRef(m.id(), part.name(), file, sha,
          new TensorSpec(p.input().name(), p.input().dims()), new TensorSpec(p.output().name(), p.output().dims()));
      TensorRtBackend probe = new TensorRtBackend();
      if (probe.unavailableReason().isPresent()) {
        System.err.println("TensorRT is not available here: " + probe.unavailableReason().get());
        return 1;
      }
      DeviceDetector.Detection d = DeviceDetector.detect(profile, probe.cudaDeviceName().orElse(null));
      DeviceProfile prof = new DeviceProfiles(profiles != null ? profiles : RepoPaths.profiles()).load(d.profile());
      System.out.println("profile " + d.profile() + " (" + d.reason() + ")");
      TensorRtBackend trt = new TensorRtBackend(prof, cache != null ? cache : probe.cacheDir());
      EngineReport r = trt.build(ref, precision, rebuild, msg -> System.out.println("  " + msg));
      System.out.printf(Locale.ROOT, "engine    %s%n", r.file());
      System.out.printf(Locale.ROOT, "source    %s%n", r.fromCache() ? "engine cache (no build)" : String.format(Locale.ROOT, "built in %.2f s", r.buildMillis() / 1e3));
      System.out.printf(Locale.ROOT, "size      %,d bytes; deserialized in %d ms%n", r.engineBytes(), r.loadMillis());
      System.out.printf(Locale.ROOT, "tensorrt  %s on %s (SM %s), precision %s, profile %s%n", r.tensorrtVersion(), r.gpu(), r.sm(), r.precision(), r.profile());
      System.out.printf(Locale.ROOT, "layers    %d: %s%n", r.layers().size(), r.layerPrecisions());
      if (layers) {
        System.out.println("  (precision the kernel computes in -> its output's data type)");
        for (EngineReport.Layer l : r.layers()) {
          System.out.printf(Locale.ROOT, "  %-6s -> %-6s %-24s %s%n", l.precision(), l.outputPrecision(), l.type(), l.name());
        }
      }
      if (bench > 0) bench(trt, ref);
      return 0;
    }

    private void bench(TensorRtBackend trt, ModelPartRef ref) throws Exception {
      try (InferenceSession s = trt.open(ref, new SessionOptions(0, precision))) {
        FloatBuffer in = s.input();
        for (int i = 0; i < in.capacity(); i++) in.put(i, (float) Math.sin(i * 0.001));
        int warm = Math.max(10, Math.min(200, bench / 10));
        for (int i = 0; i < warm; i++) s.run();
        double[] us = new double[bench];
        long t0 = System.nanoTime();
        for (int i = 0; i < bench; i++) {
          long t = System.nanoTime();
          s.run();
          us[i] = (System.nanoTime() - t) / 1e3;
        }
        double total = (System.nanoTime() - t0) / 1e9;
        Arrays.sort(us);
        System.out.printf(Locale.ROOT, "latency   %d runs (after %d warm-up), H2D + enqueueV3 + D2H + sync: p50 %.1f us, p90 %.1f us, "
            + "p99 %.1f us, max %.1f us; %.0f inferences/s%n", bench, warm, pct(us, 50), pct(us, 90), pct(us, 99), us[bench - 1], bench / total);
      }
    }

    private static double pct(double[] sorted, double p) {
      return sorted[Math.min(sorted.length - 1, (int) Math.floor(p / 100.0 * sorted.length))];
    }
  }
}

package dev.splitrt.cli;

import dev.splitrt.infer.BackendPreference;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.eval.CodecSweep;
import dev.splitrt.eval.RateAccuracyReport;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
    description = {"Accuracy or mAP for (weights variant x bottleneck codec) through the runtime path (preprocess, head,",
        "FeatureFrame encode/decode, tail, post-process) over the model's evaluation frames. Writes <model>-codecs.md,",
        "<model>-codecs.csv and <model>-rate-accuracy.png into --out."})
final class EvalCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, description = "Model id (a folder under models/).")
  String modelId;

  @Option(names = "--weights", split = ",", paramLabel = "VARIANT",
      description = {"Weights variants, comma-separated or repeated (default: fp32). Each is 'fp32' (the manifest's files),",
          "a folder holding head.onnx and/or tail.onnx (a missing one is the manifest's; named after the folder),",
          "or NAME:HEAD.onnx:TAIL.onnx with '-' for the manifest's file."})
  List<String> weights;

  @Option(names = "--codecs", split = ",", paramLabel = "CODEC",
      description = {"Codecs, comma-separated: 'all' (default: 8/6/4/2 bits x per_tensor/per_channel x sym/asym and",
          "three_range[_per_channel], x none/deflate/zstd), 'default' (the manifest's), or labels such as",
          "4b-per_channel-asym-zstd, 4b-three_range-none."})
  List<String> codecs;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for the table, CSV and plot.")
  Path out;

  @Option(names = "--eval-set", paramLabel = "DIR", description = {"Frames + labels.json to measure on instead of the model's eval subset,",
      "e.g. a whole test split from models/recipes/export_test_split.py; figures are then compared with the card's test-split ones."})
  Path evalSet;

  @Option(names = "--learned", split = ",", paramLabel = "MODEL",
      description = {"Learned-codec models (bottleneck.codec entropy rans, FeatureFrame v4) to measure on the same frames,",
          "e.g. fs-entropic-cls-l0p5; writes <model>-learned.md/.csv and <model>-rate-accuracy-learned.png beside the sweep.",
          "With --codecs none only these run, and --compare CSV supplies the fixed-width points of an earlier sweep."})
  List<String> learned;

  @Option(names = "--replot", split = ",", paramLabel = "CSV",
      description = "With --codecs none: no measuring; draw and tabulate the points of these <model>-learned.csv files together.")
  List<Path> replot;

  @Option(names = "--compare", paramLabel = "CSV", description = "A <model>-codecs.csv of an earlier sweep on the same frames, drawn beside --learned.")
  Path compare;

  @Option(names = "--frames", defaultValue = "0", description = "Evaluate only the first N frames (default: all).")
  int frames;

  @Option(names = "--backend", defaultValue = "onnxruntime", description = "auto, tensorrt or onnxruntime (default ${DEFAULT-VALUE}).")
  BackendPreference backendName;

  @Option(names = "--threads", defaultValue = "0", description = "Inference threads per session (default: backend's choice).")
  int threads;

  @Override
  public Integer call() throws Exception {
    LoadedModel model = new ModelRegistry(RepoPaths.models()).load(modelId);
    ModelManifest mf = model.manifest();
    if (codecs != null && codecs.equals(List.of("none"))) {
      if (replot != null && !replot.isEmpty()) return learnedOnly(model);
      if (learned == null || learned.isEmpty()) throw new Errors.UserError("--codecs none needs --learned MODEL[,MODEL...]");
      return learnedOnly(model);
    }
    List<CodecSweep.Variant> variants = variants(model);
    List<CodecSpec> specs = codecs(mf);
    InferenceBackend backend = Backends.select(backendName);
    int total = frames > 0 ? frames : -1;
    CodecSweep.Result result;
    try (ProgressBar bar = new ProgressBarBuilder().setTaskName(modelId).setInitialMax(total)
        .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
        .setUpdateIntervalMillis(500).build()) {
      result = CodecSweep.run(model, evalSet, backend, new SessionOptions(threads, "fp32"), variants, specs, frames, bar::stepTo);
    }
    RateAccuracyReport.Targets targets = targets(mf, evalSet == null ? "eval_subset" : "test");
    Files.createDirectories(out);
    String md = "# " + mf.id() + ": bottleneck codecs\n\n"
        + String.format(Locale.ROOT, "%d evaluation frames, backend %s. Bytes: whole FeatureFrame message (device id '%s'). "
            + "Raw input %,d B; budget raw/40 = %,d B. \"meets both\": max bytes within the budget and %s at or above %.2f %%.%n%n",
            result.rows().get(0).frames(), backend.name(), CodecSweep.DEVICE_ID, result.rawInputBytes(), targets.budgetBytes(),
            result.metricName(), 100 * targets.floor())
        + RateAccuracyReport.markdown(result, targets);
    Files.writeString(out.resolve(mf.id() + "-codecs.md"), md, StandardCharsets.UTF_8);
    Files.writeString(out.resolve(mf.id() + "-codecs.csv"), RateAccuracyReport.csv(result), StandardCharsets.UTF_8);
    for (CodecSweep.Variant v : variants) {
      String suffix = v.name().equals("fp32") ? "" : "-" + v.name();
      RateAccuracyReport.plot(result, v.name(), targets, out.resolve(mf.id() + "-rate-accuracy" + suffix + ".png"));
    }
    System.out.println(md);
    System.out.println("written: " + out.resolve(mf.id() + "-codecs.md") + ", -codecs.csv, -rate-accuracy*.png");
    if (learned != null && !learned.isEmpty()) {
      if (compare == null) compare = out.resolve(mf.id() + "-codecs.csv");
      return learnedOnly(model);
    }
    return 0;
  }

  /** The --learned models on the same frames, beside the fixed-width points of --compare (if given). */
  private int learnedOnly(LoadedModel base) throws Exception {
    ModelManifest mf = base.manifest();
    ModelRegistry registry = new ModelRegistry(RepoPaths.models());
    InferenceBackend backend = Backends.select(backendName);
    List<dev.splitrt.eval.LearnedSweep.Point> pts = new ArrayList<>();
    if (replot != null) for (Path c : replot) pts.addAll(dev.splitrt.eval.LearnedRateReport.readLearnedCsv(c));
    for (String id : learned == null ? List.<String>of() : learned) {
      LoadedModel m = registry.load(id);
      if (!m.manifest().bottleneck().learned()) {
        throw new Errors.UserError("--learned " + id + ": its bottleneck.codec is not the learned codec (entropy: rans)");
      }
      try (ProgressBar bar = new ProgressBarBuilder().setTaskName(id).setInitialMax(frames > 0 ? frames : -1)
          .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
          .setUpdateIntervalMillis(500).build()) {
        pts.add(dev.splitrt.eval.LearnedSweep.run(m, evalSet, backend, new SessionOptions(threads, "fp32"), frames, bar::stepTo));
      }
    }
    RateAccuracyReport.Targets targets = targets(mf, evalSet == null ? "eval_subset" : "test");
    int pixels = mf.input().width() * mf.input().height();
    int raw = pixels * 3;
    int jpeg = mf.metrics() != null && mf.metrics().get("bytes") instanceof Map<?, ?> b && b.get("jpeg_q90_mean") instanceof Number n
        ? n.intValue() : 0;
    List<dev.splitrt.eval.LearnedRateReport.Fixed> fixed = compare == null ? List.of()
        : dev.splitrt.eval.LearnedRateReport.readCsv(compare);
    String metric = mf.task() == ModelManifest.Task.CLASSIFICATION ? "top-1" : "mAP@0.5";
    Files.createDirectories(out);
    String md = "# " + mf.id() + ": learned entropy bottleneck\n\n"
        + String.format(Locale.ROOT, "%d evaluation frames, backend %s. Bytes: whole FeatureFrame v4 message (device id '%s'); "
            + "bpp = bytes x 8 / %d pixels. Unsplit %s of %s (card): %.2f %%. Encode = LearnedFeatureEncoder.encode "
            + "(rounding, rANS, framing; head excluded), decode = LearnedFeatureDecoder.decode + dequantize, median per frame, "
            + "one thread of this machine.%n%n", pts.get(0).frames(), replot != null ? "as in the replotted CSVs" : backend.name(), dev.splitrt.eval.CodecSweep.DEVICE_ID, pixels,
            metric, mf.id(), 100 * targets.fp32())
        + dev.splitrt.eval.LearnedRateReport.markdown(pts, targets.fp32(), pixels, raw, metric);
    Files.writeString(out.resolve(mf.id() + "-learned.md"), md, StandardCharsets.UTF_8);
    Files.writeString(out.resolve(mf.id() + "-learned.csv"), dev.splitrt.eval.LearnedRateReport.csv(pts, pixels), StandardCharsets.UTF_8);
    dev.splitrt.eval.LearnedRateReport.plot(pts, fixed, targets.fp32(), targets.floor(), jpeg, raw, pixels,
        mf.id() + ": learned entropy bottleneck vs fixed-width codecs (" + pts.get(0).frames() + " frames)", metric,
        out.resolve(mf.id() + "-rate-accuracy-learned.png"));
    System.out.println(md);
    System.out.println("written: " + out.resolve(mf.id() + "-learned.md") + ", -learned.csv, -rate-accuracy-learned.png");
    return 0;
  }

  /** Card figure unsplit FP32 of {@code group} (eval_subset | test); floor 1 pt (classifier) / 2 pt (detector) below; budget raw/40. */
  static RateAccuracyReport.Targets targets(ModelManifest mf, String group) {
    double fp32 = Double.NaN;
    if (mf.metrics() != null && mf.metrics().get(group) instanceof Map<?, ?> m && m.get("unsplit_fp32") instanceof Number n) {
      fp32 = n.doubleValue();
    }
    double slack = mf.task() == ModelManifest.Task.CLASSIFICATION ? 0.01 : 0.02;
    int raw = mf.input().width() * mf.input().height() * 3;
    return new RateAccuracyReport.Targets(fp32, fp32 - slack, raw / 40);
  }

  private List<CodecSweep.Variant> variants(LoadedModel model) throws Errors.UserError {
    List<CodecSweep.Variant> out = new ArrayList<>();
    for (String w : weights == null || weights.isEmpty() ? List.of("fp32") : weights) {
      if (w.equals("fp32")) {
        out.add(CodecSweep.Variant.fp32());
        continue;
      }
      String[] p = w.split(":");
      if (p.length == 3) {
        out.add(new CodecSweep.Variant(p[0], p[1].equals("-") ? null : Path.of(p[1]), p[2].equals("-") ? null : Path.of(p[2])));
        continue;
      }
      Path dir = Path.of(w);
      if (!Files.isDirectory(dir)) {
        throw new Errors.UserError("--weights '" + w + "': not 'fp32', not a folder and not NAME:HEAD.onnx:TAIL.onnx");
      }
      Path head = dir.resolve("head.onnx");
      Path tail = dir.resolve("tail.onnx");
      if (!Files.isRegularFile(head) && !Files.isRegularFile(tail)) {
        throw new Errors.UserError("--weights '" + w + "': the folder holds neither head.onnx nor tail.onnx");
      }
      out.add(new CodecSweep.Variant(dir.getFileName().toString(), Files.isRegularFile(head) ? head : null,
          Files.isRegularFile(tail) ? tail : null));
    }
    return out;
  }

  private List<CodecSpec> codecs(ModelManifest mf) throws Errors.UserError {
    List<CodecSpec> out = new ArrayList<>();
    for (String c : codecs == null || codecs.isEmpty() ? List.of("all") : codecs) {
      try {
        if (c.equals("all")) out.addAll(CodecSweep.allCodecs());
        else if (c.equals("default")) out.add(CodecSpec.of(mf.bottleneck().codec()));
        else out.add(CodecSpec.parse(c));
      } catch (IllegalArgumentException e) {
        throw new Errors.UserError("--codecs: " + e.getMessage());
      }
    }
    return out.stream().distinct().toList();
  }
}

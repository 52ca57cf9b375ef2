package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtException;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.FeatureDecoder;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FeatureFrameException;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.eval.MeanAveragePrecision;
import dev.splitrt.eval.TopOneAccuracy;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Postprocessor;
import dev.splitrt.tail.Prediction;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The weights half of the model card's quantization table: accuracy (top-1) or mAP@0.5 on the
 * model's evaluation frames with the head, the tail or both quantized to FP32 / INT8 / INT4 / INT2
 * weights, plain and after SplitQuant, through ONNX Runtime. Every row runs the real split path:
 * Preprocessor, head, the manifest's default bottleneck codec (encode, decode), tail, and the
 * manifest's post-processing.
 */
public final class WeightsTable {
  /** Which part's weights are quantized in a row. */
  public enum Quantized { HEAD, TAIL, BOTH }

  /**
   * One setting: weights {@code bits} 32 (float), 8, 4 or 2; with or without SplitQuant first;
   * {@code activations} null (float) or the calibration method of full INT8 Q/DQ (heads only).
   */
  public record Variant(int bits, boolean splitQuant, Calibrator.Method activations) {
    String label() {
      String w = bits == 32 ? "FP32" : "INT" + bits;
      return activations == null ? w : w + " + INT8 activations (" + activations.name().toLowerCase(Locale.ROOT) + ")";
    }

    ModelProto apply(ModelProto m, List<float[]> calibration) throws OrtException {
      ModelProto s = splitQuant ? SplitQuant.transform(m) : m;
      if (activations != null) s = Calibrator.insertQdq(s, Calibrator.collect(s, calibration).thresholds(activations));
      return bits == 32 ? s : WeightQuantizer.quantize(s, bits);
    }
  }

  /** One measured cell: the metric (top-1 or mAP@0.5) and, for detectors, mAP@0.5:0.95 (else NaN). */
  public record Row(Quantized quantized, Variant variant, double metric, double map50to95) {}

  /** The measured rows plus what they were measured on. */
  public record Table(String modelId, String task, int frames, int calibrationFrames, String codec, List<Row> rows) {}

  /** Frames (the first of eval/) the INT8 Q/DQ heads are calibrated on. */
  public static final int CALIBRATION_FRAMES = 64;
  private static final Variant FP32 = new Variant(32, false, null);
  private static final int[] BITS = {32, 8, 4, 2};

  private WeightsTable() {}

  /** Measures every row on the first {@code frames} evaluation frames ({@code <= 0}: all). */
  public static Table measure(LoadedModel m, int frames, int threads) throws IOException, OrtException {
    ModelManifest mf = m.manifest();
    boolean detection = mf.task() == ModelManifest.Task.DETECTION;
    List<EvalFrames.Item> items = EvalFrames.load(m, frames);
    ModelProto head = Onnx.read(m.head().file());
    ModelProto tail = Onnx.read(m.tail().file());
    List<Variant> variants = new ArrayList<>();
    for (int b : BITS) for (boolean sq : new boolean[] {false, true}) variants.add(new Variant(b, sq, null));
    List<Variant> qdqHeads = new ArrayList<>();
    for (Calibrator.Method cm : Calibrator.Method.values()) {
      for (boolean sq : new boolean[] {false, true}) qdqHeads.add(new Variant(8, sq, cm));
    }
    List<float[]> calibration = items.subList(0, Math.min(CALIBRATION_FRAMES, items.size())).stream()
        .map(EvalFrames.Item::input).toList();

    Map<Variant, OrtRunner> heads = new LinkedHashMap<>();
    Map<Variant, OrtRunner> tails = new LinkedHashMap<>();
    Map<List<Variant>, Object> metrics = new LinkedHashMap<>();   // (head variant, tail variant) -> accumulator
    List<List<Variant>> rowPairs = new ArrayList<>();
    List<Quantized> rowParts = new ArrayList<>();
    List<Variant> rowVariants = new ArrayList<>();
    for (Quantized q : Quantized.values()) {
      for (Variant v : variants) {
        List<Variant> pair = switch (q) {
          case HEAD -> List.of(v, FP32);
          case TAIL -> List.of(FP32, v);
          case BOTH -> List.of(v, v);
        };
        rowPairs.add(pair);
        rowParts.add(q);
        rowVariants.add(v);
        metrics.computeIfAbsent(pair, k -> detection ? new MeanAveragePrecision() : new TopOneAccuracy());
      }
    }
    for (Variant v : qdqHeads) {
      rowPairs.add(List.of(v, FP32));
      rowParts.add(Quantized.HEAD);
      rowVariants.add(v);
      metrics.computeIfAbsent(List.of(v, FP32), k -> detection ? new MeanAveragePrecision() : new TopOneAccuracy());
    }
    CodecSpec codec = CodecSpec.of(mf.bottleneck().codec());
    int[] shape = mf.head().output().shape().stream().mapToInt(Integer::intValue).toArray();
    FeatureEncoder encoder = new FeatureEncoder(codec, shape);
    FeatureDecoder decoder = new FeatureDecoder(Math.toIntExact(Onnx.count(mf.head().output().shape().stream().map(Integer::longValue).toList())));
    Postprocessor post = Postprocessor.forModel(mf, true);
    try {
      for (List<Variant> pair : metrics.keySet()) {
        if (!heads.containsKey(pair.get(0))) heads.put(pair.get(0), new OrtRunner(pair.get(0).apply(head, calibration), threads));
        if (!tails.containsKey(pair.get(1))) tails.put(pair.get(1), new OrtRunner(pair.get(1).apply(tail, calibration), threads));
      }
      long seq = 0;
      for (EvalFrames.Item it : items) {
        Map<Variant, float[]> bottlenecks = new LinkedHashMap<>();
        for (Map.Entry<Variant, OrtRunner> h : heads.entrySet()) {
          float[] y = h.getValue().run(it.input()).get(0);
          FrameHeader header = new FrameHeader("quant-table", mf.id(), m.headSha256(), seq++, 0,
              it.transform().sourceWidth(), it.transform().sourceHeight());
          float[] decoded = new float[y.length];
          try {
            decoder.decode(encoder.encode(header, FloatBuffer.wrap(y))).dequantizeInto(FloatBuffer.wrap(decoded));
          } catch (FeatureFrameException e) {
            throw new IllegalStateException("the codec could not decode its own frame: " + e.getMessage(), e);
          }
          bottlenecks.put(h.getKey(), decoded);
        }
        for (Map.Entry<List<Variant>, Object> e : metrics.entrySet()) {
          float[] raw = tails.get(e.getKey().get(1)).run(bottlenecks.get(e.getKey().get(0))).get(0);
          Prediction p = post.apply(FloatBuffer.wrap(raw), it.transform());
          if (e.getValue() instanceof MeanAveragePrecision map) {
            map.add((Detections) p, it.truth().boxes());
          } else {
            ((TopOneAccuracy) e.getValue()).add(((Classification) p).topK().get(0).label(), it.truth().label());
          }
        }
      }
    } finally {
      for (OrtRunner r : heads.values()) r.close();
      for (OrtRunner r : tails.values()) r.close();
    }
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < rowPairs.size(); i++) {
      Object acc = metrics.get(rowPairs.get(i));
      double metric = acc instanceof MeanAveragePrecision map ? map.map50() : ((TopOneAccuracy) acc).value();
      double m5095 = acc instanceof MeanAveragePrecision map ? map.map50to95() : Double.NaN;
      rows.add(new Row(rowParts.get(i), rowVariants.get(i), metric, m5095));
    }
    String codecText = codec.bits() + "-bit " + codec.granularity().name().toLowerCase(Locale.ROOT).replace('_', '-')
        + (codec.symmetric() ? " symmetric" : " asymmetric") + ", entropy " + codec.entropy().name().toLowerCase(Locale.ROOT);
    return new Table(mf.id(), detection ? "detection" : "classification", items.size(), calibration.size(), codecText, rows);
  }

  /** Writes {@code quantization-weights.md} and {@code quantization-weights.csv} into {@code dir}; returns the Markdown. */
  public static String write(Table t, Path dir) throws IOException {
    boolean det = t.task().equals("detection");
    String metric = det ? "mAP@0.5" : "top-1";
    StringBuilder md = new StringBuilder();
    md.append("# ").append(t.modelId()).append(": weight quantization, plain vs SplitQuant\n\n");
    md.append(metric).append(" on the ").append(t.frames()).append(" evaluation frames (eval/), ONNX Runtime CPU, ")
        .append("bottleneck through the manifest's default codec (").append(t.codec()).append(").\n")
        .append("Weights per-channel symmetric, zero point 0 (DequantizeLinear over int8-stored integers; ")
        .append("INT8 [-127, 127], INT4 [-7, 7], INT2 [-1, 1]); biases and activations float.\n")
        .append("SplitQuant: k-means (k = 3) per output channel, three copies summed; FP32 SplitQuant is the equivalence check.\n")
        .append("Written by `splitrt quantize --model ").append(t.modelId()).append(" --table`.\n\n");
    md.append("| quantized | weights | ").append(metric).append(" plain | ").append(metric).append(" SplitQuant | SplitQuant − plain |");
    if (det) md.append(" mAP@0.5:0.95 plain | mAP@0.5:0.95 SplitQuant |");
    md.append('\n');
    md.append("| --- | --- | ---: | ---: | ---: |").append(det ? " ---: | ---: |" : "").append('\n');
    StringBuilder csv = new StringBuilder("model,quantized,weights,activations,splitquant,frames,metric,value,map50_95\n");
    boolean qdqHeader = false;
    for (int i = 0; i < t.rows().size(); i += 2) {
      Row plain = t.rows().get(i);
      Row sq = t.rows().get(i + 1);
      if (plain.variant().activations() != null && !qdqHeader) {
        qdqHeader = true;
        md.append("\nFull INT8 Q/DQ heads (the TensorRT explicit-quantization layout: symmetric per-tensor INT8 ")
            .append("activations on every Conv input, per-channel INT8 weights), calibrated on the first ")
            .append(t.calibrationFrames()).append(" eval frames and measured on all ").append(t.frames())
            .append(" (the calibration frames are among them), tail FP32:\n\n");
        md.append("| quantized | weights | ").append(metric).append(" plain | ").append(metric).append(" SplitQuant | SplitQuant − plain |");
        if (det) md.append(" mAP@0.5:0.95 plain | mAP@0.5:0.95 SplitQuant |");
        md.append('\n');
        md.append("| --- | --- | ---: | ---: | ---: |").append(det ? " ---: | ---: |" : "").append('\n');
      }
      md.append("| ").append(plain.quantized().name().toLowerCase(Locale.ROOT).replace("both", "head+tail")).append(" | ")
          .append(plain.variant().label()).append(" | ").append(f(plain.metric())).append(" | ").append(f(sq.metric()))
          .append(" | ").append(String.format(Locale.ROOT, "%+.4f", sq.metric() - plain.metric())).append(" |");
      if (det) md.append(' ').append(f(plain.map50to95())).append(" | ").append(f(sq.map50to95())).append(" |");
      md.append('\n');
      for (Row r : List.of(plain, sq)) {
        csv.append(t.modelId()).append(',').append(r.quantized().name().toLowerCase(Locale.ROOT)).append(',')
            .append(r.variant().bits() == 32 ? "fp32" : "int" + r.variant().bits()).append(',')
            .append(r.variant().activations() == null ? "fp32" : "int8-" + r.variant().activations().name().toLowerCase(Locale.ROOT))
            .append(',').append(r.variant().splitQuant()).append(',')
            .append(t.frames()).append(',').append(det ? "map50" : "top1").append(',').append(f(r.metric())).append(',')
            .append(det ? f(r.map50to95()) : "").append('\n');
      }
    }
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("quantization-weights.md"), md.toString());
    Files.writeString(dir.resolve("quantization-weights.csv"), csv.toString());
    return md.toString();
  }

  private static String f(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }
}

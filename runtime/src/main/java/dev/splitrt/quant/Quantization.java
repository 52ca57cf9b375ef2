package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtException;
import dev.splitrt.model.LoadedModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code splitrt quantize} run on a zoo model part: optional SplitQuant, then weight
 * quantization and/or INT8 activation calibration on the model's evaluation frames, written to a
 * new ONNX file. The zoo's own files are never modified.
 */
public final class Quantization {
  /** Which part of the split model. */
  public enum Part { HEAD, TAIL }

  /**
   * @param weightBits 32 (weights stay float), 8, 4 or 2
   * @param calibration null for weight-only; else INT8 activations calibrated with this method
   * @param frames evaluation frames used for calibration (the first N)
   */
  public record Options(Part part, boolean splitQuant, int weightBits, Calibrator.Method calibration, int frames) {
    public Options {
      if (part == null) throw new IllegalArgumentException("quantize: the part is missing; pass head or tail");
      if (weightBits != 32) WeightQuantizer.qmax(weightBits);
      if (calibration != null && frames < 1) {
        throw new IllegalArgumentException("quantize: --frames " + frames + " leaves nothing to calibrate on; pass 1 or more");
      }
    }
  }

  /** What was written. */
  public record Summary(Path file, int layers, int nodesBefore, int nodesAfter, long bytesBefore, long bytesAfter,
                        int calibratedTensors) {}

  private Quantization() {}

  public static Summary run(LoadedModel m, Options o, Path out) throws IOException, OrtException {
    ModelProto original = Onnx.read(o.part() == Part.HEAD ? m.head().file() : m.tail().file());
    int layers = Layer.find(original.getGraph()).size();
    ModelProto model = o.splitQuant() ? SplitQuant.transform(original) : original;
    int calibrated = 0;
    if (o.calibration() != null) {
      Calibrator cal = Calibrator.collect(model, calibrationInputs(m, o));
      var thresholds = cal.thresholds(o.calibration());
      calibrated = thresholds.size();
      model = Calibrator.insertQdq(model, thresholds);
    }
    if (o.weightBits() != 32) model = WeightQuantizer.quantize(model, o.weightBits());
    Onnx.write(model, out);
    return new Summary(out, layers, original.getGraph().getNodeCount(), model.getGraph().getNodeCount(),
        original.getSerializedSize(), model.getSerializedSize(), calibrated);
  }

  /** The part's inputs on the first frames: preprocessed images for the head, FP32 head outputs for the tail. */
  private static List<float[]> calibrationInputs(LoadedModel m, Options o) throws IOException, OrtException {
    List<float[]> images = new ArrayList<>();
    for (EvalFrames.Item it : EvalFrames.load(m, o.frames())) images.add(it.input());
    if (o.part() == Part.HEAD) return images;
    List<float[]> bottlenecks = new ArrayList<>();
    try (OrtRunner head = new OrtRunner(Onnx.read(m.head().file()), 0)) {
      for (float[] in : images) bottlenecks.add(head.run(in).get(0));
    }
    return bottlenecks;
  }
}

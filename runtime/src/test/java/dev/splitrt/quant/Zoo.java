package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import java.nio.file.Path;
import java.util.List;

/** The committed model zoo, for tests. */
final class Zoo {
  static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");
  static final List<String> IDS = List.of("fs-bottlefit-cls", "fs-leyolo-nano-det");

  private Zoo() {}

  static LoadedModel load(String id) throws Exception {
    return new ModelRegistry(MODELS).load(id);
  }

  static ModelProto part(LoadedModel m, String part) throws Exception {
    return Onnx.read(switch (part) {
      case "head" -> m.head().file();
      case "tail" -> m.tail().file();
      default -> m.full().file();
    });
  }

  /** The reference input of {@code part} in vector {@code v}: the image tensor, or the head output for the tail. */
  static float[] input(ReferenceVector v, String part) {
    return part.equals("tail") ? v.headOutput() : v.input();
  }

  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) throw new AssertionError("lengths " + a.length + " != " + b.length);
    double d = 0;
    for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs((double) a[i] - b[i]));
    return d;
  }

  /** max |a - b| / max(1, |a|): absolute for small outputs, relative for large ones. */
  static double maxScaledDiff(float[] a, float[] b) {
    if (a.length != b.length) throw new AssertionError("lengths " + a.length + " != " + b.length);
    double d = 0;
    for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs((double) a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
    return d;
  }

  /** rms(a - b) / rms(a). */
  static double relativeRms(float[] a, float[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
      den += (double) a[i] * a[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  static float[] output(ReferenceVector v, String part) {
    return switch (part) {
      case "head" -> v.headOutput();
      case "tail" -> v.tailOutput();
      default -> v.fullOutput();
    };
  }

  static long count(ModelProto m, String op) {
    return m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals(op)).count();
  }
}

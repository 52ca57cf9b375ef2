package dev.splitrt.cli;

import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.quant.Calibrator;
import dev.splitrt.quant.Quantization;
import dev.splitrt.quant.WeightsTable;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code splitrt quantize}: SplitQuant, weight quantization and INT8 calibration of a zoo model part, or the weights table. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
    description = {"Write a quantized ONNX copy of a model part: optional SplitQuant, per-channel symmetric weights, "
        + "INT8 activations calibrated on the model's eval frames (full Q/DQ, TensorRT explicit quantization).",
        "With --table: measure FP32/INT8/INT4/INT2 weights, plain vs SplitQuant, and write models/<id>/quantization-weights.md and .csv."})
final class QuantizeCommand implements Callable<Integer> {
  enum Part { head, tail }

  enum Weights { fp32, int8, int4, int2 }

  enum Activations { fp32, int8 }

  enum Method { max, percentile, entropy }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "ID", description = "Model id (a folder under models/).")
  String model;

  @Option(names = "--models", paramLabel = "DIR", description = "Model zoo folder (default: the repository's models/).")
  Path dir;

  @Option(names = "--part", paramLabel = "head|tail", description = "Which part: ${COMPLETION-CANDIDATES}.")
  Part part;

  @Option(names = "--splitquant", description = "Apply SplitQuant (three k-means copies per layer) before quantizing.")
  boolean splitQuant;

  @Option(names = "--weights", paramLabel = "BITS", defaultValue = "fp32",
      description = "Weights: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}; int8 with --activations int8).")
  Weights weights;

  @Option(names = "--activations", paramLabel = "int8", defaultValue = "fp32", description = "Activations: ${COMPLETION-CANDIDATES}.")
  Activations activations;

  @Option(names = "--calibration", paramLabel = "METHOD", defaultValue = "entropy",
      description = "Activation calibration: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
  Method calibration;

  @Option(names = "--frames", paramLabel = "N", defaultValue = "64", description = "Calibration frames, the first N of eval/ (default: ${DEFAULT-VALUE}).")
  int frames;

  @Option(names = "--out", paramLabel = "FILE", description = "The ONNX file to write.")
  Path out;

  @Option(names = "--table", description = "Measure the weights table instead (all eval frames unless --table-frames).")
  boolean table;

  @Option(names = "--table-frames", paramLabel = "N", defaultValue = "0", description = "Limit the table to the first N eval frames (0 = all).")
  int tableFrames;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "2", description = "ONNX Runtime intra-op threads (default: ${DEFAULT-VALUE}).")
  int threads;

  @Override
  public Integer call() throws Exception {
    LoadedModel m = new ModelRegistry(dir != null ? dir : RepoPaths.models()).load(model);
    if (table) {
      long t0 = System.nanoTime();
      WeightsTable.Table t = WeightsTable.measure(m, tableFrames, threads);
      System.out.print(WeightsTable.write(t, m.dir()));
      System.out.printf(Locale.ROOT, "%nwrote %s and .csv in %.0f s%n", m.dir().resolve("quantization-weights.md"), (System.nanoTime() - t0) / 1e9);
      return 0;
    }
    if (part == null) throw usage("--part head|tail is required (or --table)");
    if (out == null) throw usage("--out FILE is required");
    boolean int8Acts = activations == Activations.int8;
    int bits = switch (weights) {
      case fp32 -> int8Acts ? 8 : 32;
      case int8 -> 8;
      case int4 -> 4;
      case int2 -> 2;
    };
    Calibrator.Method method = int8Acts ? Calibrator.Method.valueOf(calibration.name().toUpperCase(Locale.ROOT)) : null;
    Quantization.Summary s = Quantization.run(m,
        new Quantization.Options(part == Part.head ? Quantization.Part.HEAD : Quantization.Part.TAIL, splitQuant, bits, method, frames), out);
    System.out.printf(Locale.ROOT, "%s %s: %d weight layers%s, weights %s, activations %s -> %s%n", model, part, s.layers(),
        splitQuant ? " split into 3 copies each (SplitQuant)" : "", bits == 32 ? "fp32" : "int" + bits,
        int8Acts ? "int8 (" + calibration + ", " + frames + " frames, " + s.calibratedTensors() + " tensors)" : "fp32", s.file());
    System.out.printf(Locale.ROOT, "  nodes %d -> %d, bytes %d -> %d%n", s.nodesBefore(), s.nodesAfter(), s.bytesBefore(), s.bytesAfter());
    return 0;
  }

  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }
}

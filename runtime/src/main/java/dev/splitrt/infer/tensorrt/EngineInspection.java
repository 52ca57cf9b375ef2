package dev.splitrt.infer.tensorrt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.tensorrt.global.nvinfer.LayerInformationFormat;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IEngineInspector;

/** Per-layer precision from TensorRT's engine inspector (engines are built with detailed profiling verbosity). */
final class EngineInspection {
  private static final ObjectMapper JSON = new ObjectMapper();

  private EngineInspection() {}

  /** The inspector's JSON for every layer (the engine must have been built with detailed profiling verbosity). */
  static String json(ICudaEngine engine) {
    IEngineInspector inspector = engine.createEngineInspector();
    if (inspector == null || inspector.isNull()) return "";
    try {
      String json = inspector.getEngineInformation(LayerInformationFormat.kJSON);
      return json == null ? "" : json;
    } finally {
      inspector.deallocate();
    }
  }

  /**
   * Parses the inspector's JSON: {"Layers": [{"Name", "LayerType", "Inputs": [{"Format/Datatype"}],
   * "Outputs": [...], "Weights": {"Type"}, "TacticName"}]}, or plain names without detailed verbosity.
   * A layer's precision is the one its kernel computes in, which is its first input's data type (what
   * NVIDIA's TensorRT Engine Explorer reports too): an INT8 convolution that writes FP32 (the last
   * conv before a DequantizeLinear that TensorRT fused away) reads INT8 and is INT8, although its output
   * is FP32. Layers without inputs (constants) fall back to their weights' type, then to their output.
   */
  static List<EngineReport.Layer> parse(String json) {
    List<EngineReport.Layer> out = new ArrayList<>();
    if (json == null || json.isBlank()) return out;
    try {
      JsonNode layers = JSON.readTree(json).path("Layers");
      for (JsonNode l : layers) {
        if (l.isTextual()) {
          out.add(new EngineReport.Layer(l.asText(), "?", "unknown", "unknown"));
          continue;
        }
        String in = precisionOf(l.path("Inputs").path(0).path("Format/Datatype").asText(""));
        String weights = precisionOf(l.path("Weights").path("Type").asText(""));
        String output = precisionOf(l.path("Outputs").path(0).path("Format/Datatype").asText(""));
        String precision = !in.equals("unknown") ? in : !weights.equals("unknown") ? weights : output;
        out.add(new EngineReport.Layer(l.path("Name").asText("?"), l.path("LayerType").asText("?"), precision, output));
      }
    } catch (java.io.IOException e) {
      out.add(new EngineReport.Layer("(inspector output not JSON: " + e.getMessage() + ")", "?", "unknown", "unknown"));
    }
    return out;
  }

  /**
   * A tensor format ("Channel major FP16 format where channel % 8 == 0", "Four wide channel vectorized
   * row major Int8 format", "Row major linear FP32") or a weights type ("Int8", "Half", "Float") as a
   * precision name. BFloat16 before Float and UInt8 before Int8: each contains the other's word.
   */
  static String precisionOf(String format) {
    String f = format.toLowerCase(Locale.ROOT);
    if (f.isEmpty()) return "unknown";
    if (f.contains("bfloat16") || f.contains("bf16")) return "bf16";
    if (f.contains("fp8")) return "fp8";
    if (f.contains("fp16") || f.contains("half")) return "fp16";
    if (f.contains("uint8")) return "uint8";
    if (f.contains("int8")) return "int8";
    if (f.contains("int32")) return "int32";
    if (f.contains("int64")) return "int64";
    if (f.contains("fp32") || f.contains("float")) return "fp32";
    if (f.contains("bool")) return "bool";
    return "other";
  }

  static Map<String, Integer> summary(List<EngineReport.Layer> layers) {
    Map<String, Integer> m = new TreeMap<>();
    for (EngineReport.Layer l : layers) m.merge(l.precision(), 1, Integer::sum);
    return m;
  }
}

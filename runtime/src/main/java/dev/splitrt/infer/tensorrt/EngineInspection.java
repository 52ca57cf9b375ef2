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

  static List<EngineReport.Layer> layers(ICudaEngine engine) {
    IEngineInspector inspector = engine.createEngineInspector();
    if (inspector == null || inspector.isNull()) return List.of();
    try {
      return parse(inspector.getEngineInformation(LayerInformationFormat.kJSON));
    } finally {
      inspector.deallocate();
    }
  }

  /** Parses the inspector's JSON: {"Layers": [{"Name", "LayerType", "Outputs": [{"Format/Datatype"}]}]} or plain names. */
  static List<EngineReport.Layer> parse(String json) {
    List<EngineReport.Layer> out = new ArrayList<>();
    if (json == null || json.isBlank()) return out;
    try {
      JsonNode layers = JSON.readTree(json).path("Layers");
      for (JsonNode l : layers) {
        if (l.isTextual()) {
          out.add(new EngineReport.Layer(l.asText(), "?", "unknown"));
          continue;
        }
        JsonNode o = l.path("Outputs").path(0);
        String fmt = o.path("Format/Datatype").asText("");
        out.add(new EngineReport.Layer(l.path("Name").asText("?"), l.path("LayerType").asText("?"), precisionOf(fmt)));
      }
    } catch (java.io.IOException e) {
      out.add(new EngineReport.Layer("(inspector output not JSON: " + e.getMessage() + ")", "?", "unknown"));
    }
    return out;
  }

  static String precisionOf(String format) {
    String f = format.toLowerCase(Locale.ROOT);
    if (f.contains("fp16") || f.contains("half")) return "fp16";
    if (f.contains("int8")) return "int8";
    if (f.contains("fp32") || f.contains("float")) return "fp32";
    if (f.contains("bf16")) return "bf16";
    if (f.contains("fp8")) return "fp8";
    if (f.contains("int32")) return "int32";
    return f.isEmpty() ? "unknown" : "other";
  }

  static Map<String, Integer> summary(List<EngineReport.Layer> layers) {
    Map<String, Integer> m = new TreeMap<>();
    for (EngineReport.Layer l : layers) m.merge(l.precision(), 1, Integer::sum);
    return m;
  }
}

package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EngineInspectionTest {
  @Test
  void countsLayersByOutputPrecision() {
    String json = """
        {"Layers": [
          {"Name": "conv1", "LayerType": "CaskConvolution", "Outputs": [{"Name": "a", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
          {"Name": "reformat", "LayerType": "Reformat", "Outputs": [{"Name": "b", "Format/Datatype": "Row major linear FP32"}]},
          {"Name": "q", "LayerType": "Scale", "Outputs": [{"Name": "c", "Format/Datatype": "Row major Int8 format"}]}
        ], "Bindings": ["image", "bottleneck"]}
        """;
    List<EngineReport.Layer> layers = EngineInspection.parse(json);
    assertThat(layers).extracting(EngineReport.Layer::precision).containsExactly("fp16", "fp32", "int8");
    assertThat(EngineInspection.summary(layers)).isEqualTo(Map.of("fp16", 1, "fp32", 1, "int8", 1));
  }

  @Test
  void keepsLayerNamesWhenTheEngineWasNotBuiltWithDetailedVerbosity() {
    assertThat(EngineInspection.parse("{\"Layers\": [\"conv1 + relu\"]}")).containsExactly(new EngineReport.Layer("conv1 + relu", "?", "unknown"));
  }
}

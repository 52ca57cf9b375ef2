package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EngineInspectionTest {
  @Test
  void labelsEachLayerByThePrecisionItComputesInNotByItsOutput() {
    // Shapes of TensorRT 10's detailed inspector JSON: an INT8 convolution whose output TensorRT made FP32
    // (the DequantizeLinear after it fused in) must count as int8; an FP16 one as fp16.
    String json = """
        {"Layers": [
          {"Name": "conv1", "LayerType": "CaskConvolution",
           "Inputs": [{"Name": "x", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
           "Outputs": [{"Name": "a", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
           "Weights": {"Type": "Half", "Count": 216}},
          {"Name": "reformat", "LayerType": "Reformat",
           "Inputs": [{"Name": "a", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
           "Outputs": [{"Name": "b", "Format/Datatype": "Row major linear FP32"}]},
          {"Name": "q", "LayerType": "Scale",
           "Inputs": [{"Name": "b", "Format/Datatype": "Row major linear FP32"}],
           "Outputs": [{"Name": "c", "Format/Datatype": "Four wide channel vectorized row major Int8 format"}]},
          {"Name": "conv2 + dq", "LayerType": "CaskConvolution",
           "Inputs": [{"Name": "c", "Format/Datatype": "Four wide channel vectorized row major Int8 format"}],
           "Outputs": [{"Name": "d", "Format/Datatype": "Row major linear FP32"}],
           "Weights": {"Type": "Int8", "Count": 576},
           "TacticName": "sm80_xmma_fprop_implicit_gemm_interleaved_i8i8_i8i32_f32_nchw_vect_c_4kcrs_vect_c_4"},
          {"Name": "const", "LayerType": "Constant", "Inputs": [],
           "Outputs": [{"Name": "e", "Format/Datatype": "Row major linear FP32"}], "Weights": {"Type": "Int8", "Count": 8}},
          {"Name": "bf", "LayerType": "Reformat",
           "Inputs": [{"Name": "e", "Format/Datatype": "Row major linear BFloat16 format"}],
           "Outputs": [{"Name": "f", "Format/Datatype": "Row major linear UInt8 format"}]}
        ], "Bindings": ["image", "bottleneck"]}
        """;
    List<EngineReport.Layer> layers = EngineInspection.parse(json);
    assertThat(layers).extracting(EngineReport.Layer::precision).containsExactly("fp16", "fp16", "fp32", "int8", "int8", "bf16");
    assertThat(layers).extracting(EngineReport.Layer::outputPrecision).containsExactly("fp16", "fp32", "int8", "fp32", "fp32", "uint8");
    assertThat(EngineInspection.summary(layers)).isEqualTo(Map.of("fp16", 2, "fp32", 1, "int8", 2, "bf16", 1));
  }

  @Test
  void keepsLayerNamesWhenTheEngineWasNotBuiltWithDetailedVerbosity() {
    assertThat(EngineInspection.parse("{\"Layers\": [\"conv1 + relu\"]}"))
        .containsExactly(new EngineReport.Layer("conv1 + relu", "?", "unknown", "unknown"));
  }
}

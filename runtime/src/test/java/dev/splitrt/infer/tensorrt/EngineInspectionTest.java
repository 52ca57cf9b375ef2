package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
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

  /**
   * Recorded from TensorRT 10.6.0.26 on an H200 (tools/gpu/results/h200-2026-12-02): the classifier's INT8 Q/DQ
   * head. Its last convolution reads INT8 with INT8 weights and writes FP32 (tactic "..._i8f32_i8i32_f32_...");
   * labelled by its output it was "fp32", and the input QuantizeLinear (a Reformat FP32 -> INT8) was "int8".
   */
  @Test
  void recordedInt8ClassifierHeadCountsTheConvolutionThatWritesFp32AsInt8() throws IOException {
    List<EngineReport.Layer> layers = EngineInspection.parse(recorded("inspector-trt10.6-h200-fs-bottlefit-cls-head-int8.json"));
    assertThat(layers).extracting(EngineReport.Layer::type)
        .containsExactly("Reformat", "CaskConvolution", "CaskPooling", "CaskConvolution", "CaskConvolution");
    assertThat(layers).extracting(EngineReport.Layer::precision).containsExactly("fp32", "int8", "int8", "int8", "int8");
    assertThat(layers).extracting(EngineReport.Layer::outputPrecision).containsExactly("int8", "int8", "int8", "int8", "fp32");
    assertThat(layers.get(4).name()).contains("/net/net.3/net.3.0/Conv");
  }

  /** The detector's INT8 Q/DQ head (same run): 12 INT8 convolutions, 3 of them writing FP32 before an FP32 residual add. */
  @Test
  void recordedInt8DetectorHeadHasEveryConvolutionInInt8() throws IOException {
    List<EngineReport.Layer> layers = EngineInspection.parse(recorded("inspector-trt10.6-h200-fs-leyolo-nano-det-head-int8.json"));
    List<EngineReport.Layer> convs = layers.stream().filter(l -> l.type().equals("CaskConvolution")).toList();
    assertThat(convs).hasSize(12).allSatisfy(l -> assertThat(l.precision()).isEqualTo("int8"));
    assertThat(convs).filteredOn(l -> l.outputPrecision().equals("fp32")).hasSize(3);
    assertThat(EngineInspection.summary(layers)).isEqualTo(Map.of("int8", 12, "fp32", 6));
  }

  private static String recorded(String name) throws IOException {
    try (InputStream in = EngineInspectionTest.class.getResourceAsStream(name)) {
      assertThat(in).as(name).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void keepsLayerNamesWhenTheEngineWasNotBuiltWithDetailedVerbosity() {
    assertThat(EngineInspection.parse("{\"Layers\": [\"conv1 + relu\"]}"))
        .containsExactly(new EngineReport.Layer("conv1 + relu", "?", "unknown", "unknown"));
  }
}

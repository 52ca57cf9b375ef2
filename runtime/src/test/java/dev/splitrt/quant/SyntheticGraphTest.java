package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Gemm (transB 0 and 1) and MatMul layers, which the zoo barely has: x[2,6] -> MatMul -> Gemm -> Gemm(transB) -> y. */
class SyntheticGraphTest {

  static ModelProto mlp() {
    Random r = new Random(7);
    GraphProto.Builder g = GraphProto.newBuilder().setName("mlp")
        .addInput(value("x", 2, 6)).addOutput(value("y", 2, 3))
        .addInitializer(Onnx.floatTensor("W1", new long[] {6, 5}, random(r, 30)))
        .addInitializer(Onnx.floatTensor("W2", new long[] {5, 4}, random(r, 20)))
        .addInitializer(Onnx.floatTensor("b2", new long[] {4}, random(r, 4)))
        .addInitializer(Onnx.floatTensor("W3", new long[] {3, 4}, random(r, 12)))
        .addInitializer(Onnx.floatTensor("b3", new long[] {1, 3}, random(r, 3)))
        .addNode(NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("x").addInput("W1").addOutput("h1"))
        .addNode(NodeProto.newBuilder().setOpType("Gemm").setName("g1").addInput("h1").addInput("W2").addInput("b2").addOutput("h2"))
        .addNode(NodeProto.newBuilder().setOpType("Gemm").setName("g2").addInput("h2").addInput("W3").addInput("b3").addOutput("y")
            .addAttribute(Onnx.intAttribute("transB", 1))
            .addAttribute(ai.onnx.proto.OnnxMl.AttributeProto.newBuilder().setName("beta").setType(
                ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.FLOAT).setF(0.5f)));
    return ModelProto.newBuilder().setIrVersion(8).setProducerName("test").setGraph(g)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build();
  }

  private static float[] random(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
    return v;
  }

  private static ValueInfoProto value(String name, long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(Onnx.FLOAT).setShape(s))).build();
  }

  @Test
  void gemmAndMatMulLayersSplitAndQuantizeAlongTheirOutputColumns() throws Exception {
    ModelProto m = mlp();
    assertThat(Layer.find(m.getGraph())).extracting(Layer::outAxis).containsExactly(1, 1, 0);
    float[] x = random(new Random(1), 12);
    float[] want;
    try (OrtRunner r = new OrtRunner(m, 1)) {
      want = r.run(x).get(0);
    }
    ModelProto split = SplitQuant.transform(m);
    assertThat(Zoo.count(split, "Gemm")).isEqualTo(6);
    assertThat(Zoo.count(split, "MatMul")).isEqualTo(3);
    try (OrtRunner r = new OrtRunner(split, 1)) {
      assertThat(Zoo.maxScaledDiff(want, r.run(x).get(0))).isLessThan(1e-6);
    }
    ModelProto q8 = WeightQuantizer.quantize(split, 8);
    assertThat(q8.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("DequantizeLinear"))
        .map(n -> Onnx.intAttr(n, "axis", -1))).containsExactly(1L, 1L, 1L, 1L, 1L, 1L, 0L, 0L, 0L);
    try (OrtRunner r = new OrtRunner(q8, 1)) {
      assertThat(Zoo.relativeRms(want, r.run(x).get(0))).isLessThan(0.02);
    }
  }

  @Test
  void calibratedQdqMlpRunsAndQuantizesEveryLayerInput() throws Exception {
    ModelProto m = mlp();
    Random r = new Random(3);
    java.util.List<float[]> inputs = java.util.stream.IntStream.range(0, 8).mapToObj(i -> random(r, 12)).toList();
    Calibrator cal = Calibrator.collect(m, inputs);
    assertThat(cal.thresholds(Calibrator.Method.MAX)).containsOnlyKeys("x", "h1", "h2");
    ModelProto q = cal.quantize(Calibrator.Method.MAX);
    assertThat(Zoo.count(q, "QuantizeLinear")).isEqualTo(3);
    try (OrtRunner a = new OrtRunner(m, 1); OrtRunner b = new OrtRunner(q, 1)) {
      assertThat(Zoo.relativeRms(a.run(inputs.get(0)).get(0), b.run(inputs.get(0)).get(0))).isLessThan(0.05);
    }
  }
}

package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ReferenceVector;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SplitQuantTest {

  static Stream<Arguments> parts() {
    return Zoo.IDS.stream().flatMap(id -> Stream.of("head", "tail", "full").map(p -> Arguments.of(id, p)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("parts")
  void splitModelComputesTheSameOutputsOnTheReferenceInputs(String id, String part) throws Exception {
    LoadedModel m = Zoo.load(id);
    ModelProto original = Zoo.part(m, part);
    ModelProto split = SplitQuant.transform(original);
    int layers = Layer.find(original.getGraph()).size();
    assertThat(Layer.find(split.getGraph())).hasSize(3 * layers);
    assertThat(Zoo.count(split, "Add")).isEqualTo(Zoo.count(original, "Add") + 2L * layers);
    double worst = 0;
    double worstRelative = 0;
    double floor = 0;
    try (OrtRunner a = new OrtRunner(original, 2); OrtRunner b = new OrtRunner(split, 2)) {
      for (ReferenceVector v : ReferenceVector.load(m)) {
        float[] want = a.run(Zoo.input(v, part)).get(0);
        float[] got = b.run(Zoo.input(v, part)).get(0);
        worst = Math.max(worst, Zoo.maxAbsDiff(want, got));
        worstRelative = Math.max(worstRelative, Zoo.maxScaledDiff(want, got));
        floor = Math.max(floor, Zoo.maxAbsDiff(want, Zoo.output(v, part)));
      }
    }
    System.out.printf("SplitQuant %s %s: %d layers split, max |diff| %.3g, max |diff|/max(1,|y|) %.3g"
        + " (noise floor: original in ONNX Runtime vs the committed reference outputs %.3g)%n",
        id, part, layers, worst, worstRelative, floor);
    // Float32 sums of three partial convolutions round differently from one: 1e-5 absolute for
    // outputs up to 1, 1e-5 relative above (the detector's box distances reach ~33, where 1e-5 is 3 ulp).
    assertThat(worstRelative).isLessThanOrEqualTo(1e-5);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("parts")
  void copiesPartitionEveryWeightAndBiasIntoAtMostOneNonZeroCopy(String id, String part) throws Exception {
    ModelProto original = Zoo.part(Zoo.load(id), part);
    ModelProto split = SplitQuant.transform(original);
    Map<String, TensorProto> init = Onnx.initializers(split.getGraph());
    for (Layer l : Layer.find(original.getGraph())) {
      NodeProto n = l.node();
      List<NodeProto> copies = split.getGraph().getNodeList().stream()
          .filter(c -> c.getOpType().equals(n.getOpType()) && c.getName().startsWith(n.getName() + "_sq")).toList();
      assertThat(copies).as("copies of %s", n.getName()).hasSize(3);
      float[] w = Onnx.floats(l.weight());
      float[] sum = new float[w.length];
      for (NodeProto c : copies) {
        float[] part1 = Onnx.floats(init.get(c.getInput(1)));
        for (int i = 0; i < w.length; i++) {
          if (part1[i] != 0) {
            assertThat(sum[i]).as("weight %d of %s in two copies", i, n.getName()).isZero();
            sum[i] = part1[i];
          }
        }
      }
      assertThat(sum).as("copies of %s add up to its weight", n.getName()).containsExactly(w);
    }
  }
}

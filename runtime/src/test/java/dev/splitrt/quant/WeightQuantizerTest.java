package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ReferenceVector;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightQuantizerTest {
  @TempDir Path tmp;

  @Test
  void everyConstantWeightBecomesPerChannelSymmetricIntegersWithZeroZeroPoint() throws Exception {
    ModelProto original = Zoo.part(Zoo.load("fs-leyolo-nano-det"), "head");
    Map<String, TensorProto> before = Onnx.initializers(original.getGraph());
    for (int bits : new int[] {8, 4, 2}) {
      int qmax = (1 << (bits - 1)) - 1;
      ModelProto q = WeightQuantizer.quantize(original, bits);
      Map<String, TensorProto> init = Onnx.initializers(q.getGraph());
      List<NodeProto> dqs = q.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("DequantizeLinear")).toList();
      assertThat(dqs).hasSize(Layer.find(original.getGraph()).size());
      assertThat(Layer.find(q.getGraph())).isEmpty();           // no float weight left
      for (NodeProto dq : dqs) {
        TensorProto ints = init.get(dq.getInput(0));
        float[] scales = Onnx.floats(init.get(dq.getInput(1)));
        TensorProto zp = init.get(dq.getInput(2));
        assertThat(ints.getDataType()).isEqualTo(Onnx.INT8);
        assertThat(zp.getDataType()).isEqualTo(Onnx.INT8);
        assertThat(zp.getRawData().toByteArray()).containsOnly((byte) 0);
        assertThat(Onnx.intAttr(dq, "axis", -1)).isZero();       // Conv: output channels
        String weightName = dq.getInput(0).substring(0, dq.getInput(0).length() - 2);
        float[] w = Onnx.floats(before.get(weightName));
        byte[] qv = ints.getRawData().toByteArray();
        int per = w.length / scales.length;
        for (int c = 0; c < scales.length; c++) {
          float amax = 0;
          for (int i = 0; i < per; i++) amax = Math.max(amax, Math.abs(w[c * per + i]));
          assertThat(scales[c]).isEqualTo(amax > 0 ? amax / qmax : 1f);
          for (int i = 0; i < per; i++) {
            assertThat((int) qv[c * per + i]).isBetween(-qmax, qmax);
            assertThat(Math.abs(qv[c * per + i] * scales[c] - w[c * per + i])).isLessThanOrEqualTo(scales[c] / 2 * 1.0001f);
          }
        }
      }
    }
  }

  @Test
  void int8WeightsKeepTheOutputsCloseAndLowerBitsDriftFurther() throws Exception {
    for (String id : Zoo.IDS) {
      LoadedModel m = Zoo.load(id);
      for (String part : List.of("head", "tail")) {
        ModelProto original = Zoo.part(m, part);
        ReferenceVector v = ReferenceVector.load(m).get(0);
        float[] want;
        try (OrtRunner r = new OrtRunner(original, 2)) {
          want = r.run(Zoo.input(v, part)).get(0);
        }
        double range = 0;
        for (float x : want) range = Math.max(range, Math.abs(x));
        double[] err = new double[3];
        int[] bits = {8, 4, 2};
        for (int b = 0; b < 3; b++) {
          try (OrtRunner r = new OrtRunner(WeightQuantizer.quantize(original, bits[b]), 2)) {
            err[b] = Zoo.maxAbsDiff(want, r.run(Zoo.input(v, part)).get(0)) / range;
          }
        }
        System.out.printf("weights %s %s: max |diff| / max |y| INT8 %.4f, INT4 %.4f, INT2 %.4f%n", id, part, err[0], err[1], err[2]);
        assertThat(err[0]).isLessThan(0.05);
        assertThat(err[1]).isGreaterThan(err[0]);
        assertThat(err[2]).isGreaterThan(err[1]);
      }
    }
  }

  @Test
  void packedInt4RunsInOnnxRuntimeAndMatchesInt4InInt8Storage() throws Exception {
    LoadedModel m = Zoo.load("fs-bottlefit-cls");
    ModelProto head = SplitQuant.transform(Zoo.part(m, "head"));
    ModelProto packed = WeightQuantizer.quantizeInt4Packed(head);
    assertThat(packed.getIrVersion()).isEqualTo(10);
    assertThat(packed.getOpsetImport(0).getVersion()).isEqualTo(21);
    assertThat(packed.getSerializedSize()).isLessThan(WeightQuantizer.quantize(head, 4).getSerializedSize());
    float[] in = ReferenceVector.load(m).get(0).input();
    try (OrtRunner a = new OrtRunner(WeightQuantizer.quantize(head, 4), 2); OrtRunner b = new OrtRunner(packed, 2)) {
      assertThat(b.run(in).get(0)).containsExactly(a.run(in).get(0));
    }
  }

  @Test
  void int4PackingPutsTheFirstValueInTheLowNibble() {
    TensorProto t = Onnx.int4Tensor("w", new long[] {3}, new byte[] {-7, 3, -1});
    assertThat(t.getDataType()).isEqualTo(22);
    assertThat(t.getRawData().toByteArray()).containsExactly((byte) 0x39, (byte) 0x0F);
  }

  @Test
  void rejectsUnsupportedBitWidths() throws Exception {
    ModelProto head = Zoo.part(Zoo.load("fs-bottlefit-cls"), "head");
    assertThatThrownBy(() -> WeightQuantizer.quantize(head, 3))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("use 8, 4 or 2");
  }

  @Test
  void quantizedModelsPassTheOnnxChecker() throws Exception {
    Map<String, ModelProto> models = new LinkedHashMap<>();
    for (String id : Zoo.IDS) {
      LoadedModel m = Zoo.load(id);
      for (String part : List.of("head", "tail")) {
        ModelProto original = Zoo.part(m, part);
        ModelProto split = SplitQuant.transform(original);
        models.put(id + "-" + part + "-splitquant", split);
        for (int bits : new int[] {8, 4, 2}) {
          models.put(id + "-" + part + "-int" + bits, WeightQuantizer.quantize(original, bits));
          models.put(id + "-" + part + "-splitquant-int" + bits, WeightQuantizer.quantize(split, bits));
        }
      }
    }
    OnnxChecker.check(models, tmp);
  }
}

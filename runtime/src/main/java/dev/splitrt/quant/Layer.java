package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Conv, Gemm or MatMul whose weight is a constant initializer: the layers SplitQuant splits and
 * the weight quantizer quantizes. {@code outAxis} is the weight's output-channel axis: 0 for Conv
 * ([M, C/group, kH, kW]) and for Gemm with transB = 1 ([N, K]); 1 for Gemm with transB = 0 and for
 * MatMul ([K, N]). A 2-D weight is clustered and quantized per output column (output feature), the
 * same granularity as a Conv's per-output-kernel treatment.
 */
record Layer(int index, NodeProto node, TensorProto weight, TensorProto bias, int outAxis) {

  static List<Layer> find(GraphProto g) {
    Map<String, TensorProto> init = Onnx.initializers(g);
    List<Layer> out = new ArrayList<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      if (!n.getDomain().isEmpty() || n.getInputCount() < 2) continue;
      TensorProto w = init.get(n.getInput(1));
      if (w == null || w.getDataType() != Onnx.FLOAT) continue;
      if (init.containsKey(n.getInput(0))) continue;           // both constant: leave it to constant folding
      TensorProto b = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? init.get(n.getInput(2)) : null;
      if (b != null && b.getDataType() != Onnx.FLOAT) b = null;
      switch (n.getOpType()) {
        case "Conv" -> {
          if (w.getDimsCount() >= 3) out.add(new Layer(i, n, w, b, 0));
        }
        case "Gemm" -> {
          if (w.getDimsCount() == 2) out.add(new Layer(i, n, w, b, Onnx.intAttr(n, "transB", 0) == 1 ? 0 : 1));
        }
        case "MatMul" -> {
          if (w.getDimsCount() == 2) out.add(new Layer(i, n, w, null, 1));
        }
        default -> { }
      }
    }
    return out;
  }

  /** Layout of the weight around its output axis: index = (o * channels + c) * inner + i. */
  int channels() {
    return (int) weight.getDims(outAxis);
  }

  int outer() {
    int o = 1;
    for (int d = 0; d < outAxis; d++) o *= (int) weight.getDims(d);
    return o;
  }

  int inner() {
    int n = 1;
    for (int d = outAxis + 1; d < weight.getDimsCount(); d++) n *= (int) weight.getDims(d);
    return n;
  }

  /** The values of output channel {@code c}. */
  static float[] channel(float[] w, int c, int channels, int outer, int inner) {
    float[] v = new float[outer * inner];
    for (int o = 0; o < outer; o++) System.arraycopy(w, (o * channels + c) * inner, v, o * inner, inner);
    return v;
  }
}

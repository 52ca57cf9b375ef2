package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Weight-only quantization of every Conv, Gemm and MatMul with a constant weight: per output
 * channel, symmetric, zero point 0 (what TensorRT's explicit quantization accepts), written as a
 * DequantizeLinear over an integer initializer so the file carries the integers and any runtime
 * sees where the scales are. Levels are the narrow symmetric range {@code [-qmax, qmax]},
 * {@code qmax = 2^(bits-1) - 1}: INT8 [-127, 127], INT4 [-7, 7], INT2 [-1, 1] (ternary);
 * {@code scale = max|w| / qmax} per channel (1 for an all-zero channel), {@code q = rint(w / scale)}.
 * Biases stay float, as TensorRT keeps them.
 *
 * <p>Storage: INT8 weights are int8 tensors. INT4 and INT2 are stored in int8 tensors whose values
 * are clamped to the 4-bit / 2-bit range, so the model stays at its opset and ONNX IR version (the
 * zoo is opset 17), passes the ONNX checker available here (onnx 1.12 knows neither opset 21 nor
 * INT4), and can load in TensorRT as INT8 Q/DQ (TensorRT 10 documents INT4 weights for its
 * block-quantized weight-only mode, not per-channel Conv weights; untested here). ONNX Runtime
 * 1.29 does run native INT4 (data_type 22, opset 21) per-axis DequantizeLinear too:
 * {@link #quantizeInt4Packed} writes that form, half the weight bytes, for runtimes that take it.
 */
public final class WeightQuantizer {
  private WeightQuantizer() {}

  /** Quantizes the weights to {@code bits} = 8, 4 or 2 (int8 storage). */
  public static ModelProto quantize(ModelProto model, int bits) {
    return quantize(model, bits, false);
  }

  /** INT4 weights as ONNX INT4 tensors; raises the opset to 21 and the IR version to 10 where lower. */
  public static ModelProto quantizeInt4Packed(ModelProto model) {
    ModelProto q = quantize(model, 4, true);
    ModelProto.Builder b = q.toBuilder().setIrVersion(Math.max(q.getIrVersion(), 10));
    boolean found = false;
    for (int i = 0; i < b.getOpsetImportCount(); i++) {
      OperatorSetIdProto o = b.getOpsetImport(i);
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        found = true;
        if (o.getVersion() < 21) b.setOpsetImport(i, o.toBuilder().setVersion(21));
      }
    }
    if (!found) b.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(21));
    return b.build();
  }

  static int qmax(int bits) {
    if (bits != 8 && bits != 4 && bits != 2) {
      throw new IllegalArgumentException("weight bits " + bits + " is not supported; use 8, 4 or 2");
    }
    return (1 << (bits - 1)) - 1;
  }

  private static ModelProto quantize(ModelProto model, int bits, boolean packInt4) {
    int qmax = qmax(bits);
    GraphProto g = model.getGraph();
    List<Layer> layers = Layer.find(g);
    Set<String> used = Onnx.names(g);
    Map<Integer, Layer> byIndex = new HashMap<>();
    for (Layer l : layers) byIndex.put(l.index(), l);
    Map<String, String> dequantized = new HashMap<>();     // weight name + axis -> DQ output
    List<TensorProto> added = new ArrayList<>();
    GraphProto.Builder gb = g.toBuilder().clearNode();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      Layer l = byIndex.get(i);
      if (l == null) {
        gb.addNode(n);
        continue;
      }
      String key = l.weight().getName() + "\u0000" + l.outAxis();
      String dq = dequantized.get(key);
      if (dq == null) {
        dq = Onnx.fresh(used, l.weight().getName() + "_dq");
        gb.addNode(dequantizeNode(l, qmax, packInt4, used, added, dq));
        dequantized.put(key, dq);
      }
      gb.addNode(n.toBuilder().setInput(1, dq));
    }
    gb.addAllInitializer(added);
    Onnx.dropUnused(gb);
    return model.toBuilder().setGraph(gb).build();
  }

  private static NodeProto dequantizeNode(Layer l, int qmax, boolean packInt4, Set<String> used, List<TensorProto> added,
                                          String output) {
    float[] w = Onnx.floats(l.weight());
    int channels = l.channels();
    int outer = l.outer();
    int inner = l.inner();
    float[] scales = new float[channels];
    byte[] q = new byte[w.length];
    for (int c = 0; c < channels; c++) {
      float amax = 0;
      for (float v : Layer.channel(w, c, channels, outer, inner)) amax = Math.max(amax, Math.abs(v));
      float s = amax > 0 ? amax / qmax : 1f;
      scales[c] = s;
      for (int o = 0; o < outer; o++) {
        for (int i = 0; i < inner; i++) {
          int at = (o * channels + c) * inner + i;
          q[at] = (byte) Math.max(-qmax, Math.min(qmax, Math.rint(w[at] / s)));
        }
      }
    }
    String name = l.weight().getName();
    String qName = Onnx.fresh(used, name + "_q");
    String sName = Onnx.fresh(used, name + "_scale");
    String zName = Onnx.fresh(used, name + "_zero_point");
    long[] dims = Onnx.dims(l.weight());
    byte[] zeros = new byte[channels];
    added.add(packInt4 ? Onnx.int4Tensor(qName, dims, q) : Onnx.int8Tensor(qName, dims, q));
    added.add(Onnx.floatTensor(sName, new long[] {channels}, scales));
    added.add(packInt4 ? Onnx.int4Tensor(zName, new long[] {channels}, zeros) : Onnx.int8Tensor(zName, new long[] {channels}, zeros));
    return NodeProto.newBuilder().setOpType("DequantizeLinear").setName(Onnx.fresh(used, name + "_DequantizeLinear"))
        .addInput(qName).addInput(sName).addInput(zName).addOutput(output)
        .addAttribute(Onnx.intAttribute("axis", l.outAxis())).build();
  }
}

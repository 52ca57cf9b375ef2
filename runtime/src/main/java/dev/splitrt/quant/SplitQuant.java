package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * SplitQuant (Song &amp; Lin, 2025) on an ONNX graph: every Conv, Gemm and MatMul with a constant
 * weight becomes three copies of itself whose outputs are summed with two Add nodes. The function
 * is unchanged (up to float rounding of the sums), but each copy holds only one k-means cluster of
 * the weights, so its per-channel range is narrow and low-bit quantization loses less.
 *
 * <p>Clustering: k = 3 over each output channel's weights (a Conv's output kernel; a Gemm's or
 * MatMul's output column), centres initialised at the channel's minimum, median and maximum (no
 * randomness), boundaries at the midpoints of the sorted centres; copy k keeps the weights of
 * cluster k and zeros elsewhere. Biases are clustered separately, as in the paper: one k = 3
 * clustering over the layer's bias vector, copy k carrying the bias values of bias cluster k. A copy
 * left with no weight and no bias (channels with fewer than three distinct values) is not emitted;
 * a layer left with one copy stays as it was.
 */
public final class SplitQuant {
  private SplitQuant() {}

  /** The transformed model; the input is not modified. */
  public static ModelProto transform(ModelProto model) {
    GraphProto g = model.getGraph();
    List<Layer> layers = Layer.find(g);
    Set<String> used = Onnx.names(g);
    List<NodeProto> nodes = new ArrayList<>(g.getNodeList());
    List<List<NodeProto>> replacement = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) replacement.add(null);
    List<TensorProto> added = new ArrayList<>();
    for (Layer l : layers) replacement.set(l.index(), split(l, used, added));
    GraphProto.Builder gb = g.toBuilder().clearNode();
    for (int i = 0; i < nodes.size(); i++) {
      List<NodeProto> r = replacement.get(i);
      if (r == null) gb.addNode(nodes.get(i));
      else gb.addAllNode(r);
    }
    gb.addAllInitializer(added);
    Onnx.dropUnused(gb);
    return model.toBuilder().setGraph(gb).build();
  }

  private static List<NodeProto> split(Layer l, Set<String> used, List<TensorProto> added) {
    float[] w = Onnx.floats(l.weight());
    int channels = l.channels();
    int outer = l.outer();
    int inner = l.inner();
    float[][] parts = new float[3][w.length];
    boolean[] nonEmpty = new boolean[3];
    for (int c = 0; c < channels; c++) {
      double[] b = KMeans1d.boundaries(Layer.channel(w, c, channels, outer, inner));
      for (int o = 0; o < outer; o++) {
        for (int i = 0; i < inner; i++) {
          int at = (o * channels + c) * inner + i;
          int k = KMeans1d.cluster(b, w[at]);
          parts[k][at] = w[at];
          if (w[at] != 0) nonEmpty[k] = true;
        }
      }
    }
    float[][] biasParts = null;
    if (l.bias() != null) {
      float[] bias = Onnx.floats(l.bias());
      biasParts = new float[3][bias.length];
      double[] b = KMeans1d.boundaries(bias);
      for (int i = 0; i < bias.length; i++) {
        int k = KMeans1d.cluster(b, bias[i]);
        biasParts[k][i] = bias[i];
        if (bias[i] != 0) nonEmpty[k] = true;
      }
    }
    int copies = 0;
    for (boolean ne : nonEmpty) if (ne) copies++;
    if (copies <= 1) return List.of(l.node());

    NodeProto n = l.node();
    String base = n.getName().isEmpty() ? n.getOutput(0) : n.getName();
    List<NodeProto> out = new ArrayList<>();
    List<String> sums = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      if (!nonEmpty[k]) continue;
      String wName = Onnx.fresh(used, l.weight().getName() + "_sq" + k);
      added.add(Onnx.floatTensor(wName, Onnx.dims(l.weight()), parts[k]));
      NodeProto.Builder copy = n.toBuilder().setName(Onnx.fresh(used, base + "_sq" + k)).setInput(1, wName);
      if (biasParts != null) {
        String bName = Onnx.fresh(used, l.bias().getName() + "_sq" + k);
        added.add(Onnx.floatTensor(bName, Onnx.dims(l.bias()), biasParts[k]));
        copy.setInput(2, bName);
      } else if (n.getInputCount() > 2 && k != firstNonEmpty(nonEmpty)) {
        copy.setInput(2, "");                     // a non-constant bias is added once, by the first copy
      }
      String y = Onnx.fresh(used, n.getOutput(0) + "_sq" + k);
      copy.setOutput(0, y);
      out.add(copy.build());
      sums.add(y);
    }
    String acc = sums.get(0);
    for (int s = 1; s < sums.size(); s++) {
      String y = s == sums.size() - 1 ? n.getOutput(0) : Onnx.fresh(used, n.getOutput(0) + "_sqsum" + s);
      out.add(NodeProto.newBuilder().setOpType("Add").setName(Onnx.fresh(used, base + "_sqadd" + s))
          .addInput(acc).addInput(sums.get(s)).addOutput(y).build());
      acc = y;
    }
    return out;
  }

  private static int firstNonEmpty(boolean[] nonEmpty) {
    for (int k = 0; k < nonEmpty.length; k++) if (nonEmpty[k]) return k;
    return -1;
  }
}

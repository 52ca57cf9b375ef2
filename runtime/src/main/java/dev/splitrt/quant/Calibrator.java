package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OrtException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * INT8 post-training calibration with ONNX Runtime, producing the full Q/DQ model TensorRT's
 * explicit quantization expects: a symmetric QuantizeLinear/DequantizeLinear pair (zero point 0,
 * per tensor) on the activation input of every Conv, Gemm and MatMul with a constant weight, and
 * per-channel INT8 DequantizeLinear weights ({@link WeightQuantizer}).
 *
 * <p>Ranges come from running a calibration copy of the model (the activation tensors added as
 * graph outputs) over sample inputs and collecting, per tensor, the largest |x| and a 2048-bin
 * histogram of |x| over [0, that maximum]. {@link Method#MAX} takes the maximum,
 * {@link Method#PERCENTILE} the 99.99th percentile, {@link Method#ENTROPY} the threshold minimising
 * the KL divergence between the clipped distribution and its 128-level quantized version, searched
 * over bins 128..2048 (TensorRT's legacy entropy calibrator, as NVIDIA's pytorch-quantization
 * implements it). Exact zeros are left out of the histogram (pytorch-quantization's
 * {@code skip_zeros}): they quantize to 0 at any threshold, and after a ReLU they are half the
 * values, a spike in the first bin that drags the entropy search to thresholds far too small (on
 * the classifier's head it clipped at 1.05 of 8.49 and tripled the error). The scale is
 * {@code threshold / 127}.
 */
public final class Calibrator {
  /** How a tensor's clipping threshold is chosen from its observed values. */
  public enum Method { MAX, PERCENTILE, ENTROPY }

  static final int BINS = 2048;
  static final int LEVELS = 128;
  static final double PERCENTILE = 99.99;

  private final ModelProto model;
  private final List<String> tensors;
  private final float[] amax;
  private final long[][] histograms;

  private Calibrator(ModelProto model, List<String> tensors, float[] amax, long[][] histograms) {
    this.model = model;
    this.tensors = tensors;
    this.amax = amax;
    this.histograms = histograms;
  }

  /**
   * Runs the model over {@code inputs} (tensors of its single graph input, flattened; at least one)
   * twice: once for the maxima, once for the histograms.
   */
  public static Calibrator collect(ModelProto model, List<float[]> inputs) throws OrtException {
    if (inputs.isEmpty()) throw new IllegalArgumentException("calibration needs at least one input; pass --frames 1 or more");
    List<String> tensors = new ArrayList<>(activations(model.getGraph()));
    Set<String> graphInputs = new HashSet<>();
    for (ValueInfoProto v : model.getGraph().getInputList()) graphInputs.add(v.getName());
    GraphProto.Builder g = model.getGraph().toBuilder().clearOutput();
    List<String> fetched = new ArrayList<>();
    for (String t : tensors) {
      if (graphInputs.contains(t)) continue;
      fetched.add(t);
      g.addOutput(ValueInfoProto.newBuilder().setName(t)
          .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(Onnx.FLOAT))));
    }
    ModelProto probe = model.toBuilder().setGraph(g).build();
    float[] amax = new float[tensors.size()];
    long[][] hist = new long[tensors.size()][BINS];
    if (fetched.isEmpty()) {
      for (float[] in : inputs) observe(tensors, graphInputs, fetched, in, List.of(), amax, null);
      for (float[] in : inputs) observe(tensors, graphInputs, fetched, in, List.of(), amax, hist);
    } else {
      try (OrtRunner r = new OrtRunner(probe, 0)) {
        for (float[] in : inputs) observe(tensors, graphInputs, fetched, in, r.run(in), amax, null);
        for (float[] in : inputs) observe(tensors, graphInputs, fetched, in, r.run(in), amax, hist);
      }
    }
    return new Calibrator(model, List.copyOf(tensors), amax, hist);
  }

  private static void observe(List<String> tensors, Set<String> graphInputs, List<String> fetched, float[] input,
                              List<float[]> outs, float[] amax, long[][] hist) {
    for (int t = 0; t < tensors.size(); t++) {
      float[] x = graphInputs.contains(tensors.get(t)) ? input : outs.get(fetched.indexOf(tensors.get(t)));
      if (hist == null) {
        float m = amax[t];
        for (float v : x) m = Math.max(m, Math.abs(v));
        amax[t] = m;
      } else if (amax[t] > 0) {
        double w = amax[t] / (double) BINS;
        long[] h = hist[t];
        for (float v : x) if (v != 0) h[(int) Math.min(BINS - 1, Math.abs(v) / w)]++;
      }
    }
  }

  /** The activation tensors that get a Q/DQ pair, in graph order: input 0 of each quantized layer. */
  static Set<String> activations(GraphProto g) {
    Set<String> s = new LinkedHashSet<>();
    for (Layer l : Layer.find(g)) s.add(l.node().getInput(0));
    return s;
  }

  /** Per activation tensor, the clipping threshold (|x| at which INT8 saturates) for {@code method}. */
  public Map<String, Float> thresholds(Method method) {
    Map<String, Float> m = new LinkedHashMap<>();
    for (int t = 0; t < tensors.size(); t++) {
      double width = amax[t] / (double) BINS;
      float th = switch (method) {
        case MAX -> amax[t];
        case PERCENTILE -> (float) (percentileBin(histograms[t], PERCENTILE) * width);
        case ENTROPY -> (float) (entropyBin(histograms[t]) * width);
      };
      m.put(tensors.get(t), amax[t] > 0 ? Math.min(th, amax[t]) : 0f);
    }
    return m;
  }

  /** The full Q/DQ INT8 model for {@code method}. */
  public ModelProto quantize(Method method) {
    return WeightQuantizer.quantize(insertQdq(model, thresholds(method)), 8);
  }

  static ModelProto insertQdq(ModelProto model, Map<String, Float> thresholds) {
    GraphProto g = model.getGraph();
    Set<String> used = Onnx.names(g);
    Map<String, String> dq = new HashMap<>();
    List<TensorProto> added = new ArrayList<>();
    List<NodeProto> pairs = new ArrayList<>();
    Map<String, List<NodeProto>> after = new HashMap<>();
    for (Map.Entry<String, Float> e : thresholds.entrySet()) {
      String t = e.getKey();
      float scale = e.getValue() > 0 ? e.getValue() / 127f : 1f;
      String s = Onnx.fresh(used, t + "_act_scale");
      String z = Onnx.fresh(used, t + "_act_zero_point");
      String q = Onnx.fresh(used, t + "_q");
      String d = Onnx.fresh(used, t + "_dq");
      added.add(Onnx.floatTensor(s, new long[0], new float[] {scale}));
      added.add(Onnx.int8Tensor(z, new long[0], new byte[] {0}));
      List<NodeProto> qdq = List.of(
          NodeProto.newBuilder().setOpType("QuantizeLinear").setName(Onnx.fresh(used, t + "_QuantizeLinear"))
              .addInput(t).addInput(s).addInput(z).addOutput(q).build(),
          NodeProto.newBuilder().setOpType("DequantizeLinear").setName(Onnx.fresh(used, t + "_DequantizeLinear"))
              .addInput(q).addInput(s).addInput(z).addOutput(d).build());
      after.put(t, qdq);
      dq.put(t, d);
    }
    for (ValueInfoProto in : g.getInputList()) {
      List<NodeProto> qdq = after.remove(in.getName());
      if (qdq != null) pairs.addAll(qdq);
    }
    Set<Integer> layers = new HashSet<>();
    for (Layer l : Layer.find(g)) layers.add(l.index());
    GraphProto.Builder gb = g.toBuilder().clearNode().addAllNode(pairs);
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String rewired = layers.contains(i) ? dq.get(n.getInput(0)) : null;
      gb.addNode(rewired == null ? n : n.toBuilder().setInput(0, rewired).build());
      for (String o : n.getOutputList()) {
        List<NodeProto> qdq = after.remove(o);
        if (qdq != null) gb.addAllNode(qdq);
      }
    }
    gb.addAllInitializer(added);
    return model.toBuilder().setGraph(gb).build();
  }

  /** Smallest bin count whose cumulative share reaches {@code percentile} %. */
  static int percentileBin(long[] h, double percentile) {
    long total = 0;
    for (long c : h) total += c;
    if (total == 0) return h.length;
    double goal = total * percentile / 100.0;
    long cum = 0;
    for (int i = 0; i < h.length; i++) {
      cum += h[i];
      if (cum >= goal) return i + 1;
    }
    return h.length;
  }

  /**
   * The bin count i in [128, 2048] minimising KL(P || Q), P = the first i bins with the rest added to
   * bin i-1, Q = those i bins merged into 128 levels and spread back evenly over their non-empty
   * bins; the last minimum on ties.
   */
  static int entropyBin(long[] h) {
    int n = h.length;
    long total = 0;
    for (long c : h) total += c;
    if (total == 0) return n;
    long[] suffix = new long[n + 1];
    for (int i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + h[i];
    double best = Double.POSITIVE_INFINITY;
    int bestI = n;
    double[] p = new double[n];
    double[] q = new double[n];
    for (int i = LEVELS; i <= n; i++) {
      for (int j = 0; j < i; j++) p[j] = h[j];
      p[i - 1] += suffix[i];
      // merge bins [0, i) into LEVELS groups the way np.digitize over linspace(0, i, LEVELS + 1) does
      java.util.Arrays.fill(q, 0, i, 0);
      int start = 0;
      for (int level = 0; level < LEVELS; level++) {
        int end = level == LEVELS - 1 ? i : (int) Math.ceil((level + 1) * (double) i / LEVELS);
        double sum = 0;
        int nonZero = 0;
        for (int j = start; j < end; j++) {
          sum += h[j];
          if (h[j] != 0) nonZero++;
        }
        if (nonZero > 0) {
          double each = sum / nonZero;
          for (int j = start; j < end; j++) if (h[j] != 0) q[j] = each;
        }
        start = end;
      }
      double ps = 0;
      double qs = 0;
      for (int j = 0; j < i; j++) {
        ps += p[j];
        qs += q[j];
      }
      double kl = 0;
      for (int j = 0; j < i && kl < Double.POSITIVE_INFINITY; j++) {
        if (p[j] == 0) continue;
        double pj = p[j] / ps;
        double qj = q[j] / qs;
        kl += qj == 0 ? Double.POSITIVE_INFINITY : pj * Math.log(pj / qj);
      }
      if (kl <= best) {
        best = kl;
        bestI = i;
      }
    }
    return bestI;
  }
}

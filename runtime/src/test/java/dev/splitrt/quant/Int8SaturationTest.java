package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_dnn;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_dnn.Net;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One Q/DQ Conv whose INT8 operands are at the extremes (activation codes ±127/-128, weight codes
 * ±127): the exact result is a known integer. x86 kernels that multiply u8 × s8 with
 * {@code vpmaddubsw} add two products into a saturating 16-bit lane (255 · 127 · 2 = 64770 > 32767)
 * when the CPU has no VNNI; this shows whether a runtime's INT8 convolution is exact on this CPU.
 */
class Int8SaturationTest {
  @TempDir Path tmp;

  static final int C = 64;
  static final int HW = 4;

  /** The output's quantization step: y = 63 lands on code 126. */
  static final float SY = 0.5f;

  /**
   * y = DQ(Q(Conv(DQ(Q(x, sx)), DQ(w, sw)), SY)): one output channel, 1x1 kernel, C input channels.
   * The Q after the Conv makes it the DQ → Conv → Q pattern that ONNX Runtime fuses into an INT8
   * QLinearConv (without it ONNX Runtime convolves the dequantized floats).
   */
  static ModelProto conv(byte[] w, float sx, float sw) {
    long[] wd = {1, C, 1, 1};
    TypeProto in = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(Onnx.FLOAT)
        .setShape(shape(1, C, HW, HW))).build();
    TypeProto out = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(Onnx.FLOAT)
        .setShape(shape(1, 1, HW, HW))).build();
    GraphProto g = GraphProto.newBuilder().setName("sat")
        .addInput(ValueInfoProto.newBuilder().setName("x").setType(in))
        .addOutput(ValueInfoProto.newBuilder().setName("y").setType(out))
        .addInitializer(Onnx.floatTensor("sx", new long[0], new float[] {sx}))
        .addInitializer(Onnx.int8Tensor("zx", new long[0], new byte[] {0}))
        .addInitializer(Onnx.int8Tensor("w", wd, w))
        .addInitializer(Onnx.floatTensor("sw", new long[] {1}, new float[] {sw}))
        .addInitializer(Onnx.int8Tensor("zw", new long[] {1}, new byte[] {0}))
        .addNode(NodeProto.newBuilder().setOpType("QuantizeLinear").setName("q").addInput("x").addInput("sx").addInput("zx").addOutput("xq"))
        .addNode(NodeProto.newBuilder().setOpType("DequantizeLinear").setName("dq").addInput("xq").addInput("sx").addInput("zx").addOutput("xd"))
        .addNode(NodeProto.newBuilder().setOpType("DequantizeLinear").setName("dqw").addInput("w").addInput("sw").addInput("zw")
            .addOutput("wd").addAttribute(Onnx.intAttribute("axis", 0)))
        .addInitializer(Onnx.floatTensor("sy", new long[0], new float[] {SY}))
        .addNode(NodeProto.newBuilder().setOpType("Conv").setName("conv").addInput("xd").addInput("wd").addOutput("c"))
        .addNode(NodeProto.newBuilder().setOpType("QuantizeLinear").setName("qy").addInput("c").addInput("sy").addInput("zx").addOutput("cq"))
        .addNode(NodeProto.newBuilder().setOpType("DequantizeLinear").setName("dqy").addInput("cq").addInput("sy").addInput("zx").addOutput("y"))
        .build();
    return ModelProto.newBuilder().setIrVersion(8).setProducerName("test").setGraph(g)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).build();
  }

  private static TensorShapeProto shape(long... d) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long x : d) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(x));
    return s.build();
  }

  record Case(String name, int xCode, int wCode, boolean alternate) {}

  static final Case[] CASES = {
      new Case("x +127, w +127", 127, 127, false),
      new Case("x -128, w +127", -128, 127, false),
      new Case("x +127, w -127", 127, -127, false),
      new Case("x -127, w -127", -127, -127, false),
      new Case("x +-127 alternating, w +-127 alternating", 127, 127, true),
  };

  static float[] input(Case c, float sx) {
    float[] x = new float[C * HW * HW];
    for (int ch = 0; ch < C; ch++) {
      int code = c.alternate() && (ch & 1) == 1 ? -c.xCode() : c.xCode();
      Arrays.fill(x, ch * HW * HW, (ch + 1) * HW * HW, code * sx);
    }
    return x;
  }

  static byte[] weights(Case c) {
    byte[] w = new byte[C];
    for (int ch = 0; ch < C; ch++) w[ch] = (byte) (c.alternate() && (ch & 1) == 1 ? -c.wCode() : c.wCode());
    return w;
  }

  /** The exact result, in units of sx·sw: the integer dot product of the codes. */
  static long exact(Case c) {
    long s = 0;
    byte[] w = weights(c);
    for (int ch = 0; ch < C; ch++) s += (long) (c.alternate() && (ch & 1) == 1 ? -c.xCode() : c.xCode()) * w[ch];
    return s;
  }

  /** OpenCV's INT8 result: bit-identical with AVX-512, with its AVX-512 dispatch disabled and on an AVX2-only CPU. */
  @Test
  void openCvInt8ConvIsExactAtTheCodeExtremesOnEveryCpu() throws Exception {
    for (Case c : CASES) {
      float[] y = openCv(conv(weights(c), SX, SW), input(c, SX));
      double want = want(c);
      System.out.printf("OpenCV dnn INT8 conv (%s), %s: exact %.4f, got %.4f%n", cpu(), c.name(), want, y[0]);
      for (float v : y) assertThat((double) v).as(c.name()).isCloseTo(want, Offset.offset(SY / 2.0));
    }
  }

  /**
   * ONNX Runtime fuses DQ → Conv → Q into QLinearConv; without VNNI its x86 kernel multiplies
   * u8 × s8 pairs into saturating 16-bit sums, and the first case comes out 0.5 instead of 63
   * (measured under QEMU's EPYC-Rome model: AVX2, no AVX-512, no VNNI). With AVX-512 VNNI it is exact.
   * So this asserts exactness where OpenCV's CPU probe reports AVX-512 VNNI, and elsewhere prints the
   * results and skips, naming the cause.
   */
  @Test
  void onnxRuntimeInt8ConvIsExactAtTheCodeExtremesWithVnni() throws Exception {
    List<String> wrong = new ArrayList<>();
    for (Case c : CASES) {
      float[] y;
      try (OrtRunner r = new OrtRunner(conv(weights(c), SX, SW), 1)) {
        y = r.run(input(c, SX)).get(0);
      }
      double want = want(c);
      System.out.printf("ONNX Runtime INT8 conv (%s), %s: exact %.4f, got %.4f%n", cpu(), c.name(), want, y[0]);
      if (Math.abs(y[0] - want) > SY / 2.0) wrong.add(c.name() + ": " + y[0] + " instead of " + want);
    }
    Assumptions.assumeTrue(opencv_core.checkHardwareSupport(opencv_core.CPU_AVX_512VNNI),
        "no AVX-512 VNNI on this CPU: ONNX Runtime's INT8 conv saturates 16-bit u8 x s8 sums here (" + wrong
        + "); see models/fs-leyolo-nano-det/README.md, 'INT8 on x86 CPUs'");
    assertThat(wrong).isEmpty();
  }

  static final float SX = 1f / 128;
  static final float SW = 1f / 128;

  /** The exact dot product, quantized to the output step as the Q after the Conv does. */
  static double want(Case c) {
    return Math.rint(exact(c) * (double) SX * SW / SY) * SY;
  }

  private static String cpu() {
    return opencv_core.checkHardwareSupport(opencv_core.CPU_AVX_512VNNI) ? "AVX-512 VNNI"
        : opencv_core.checkHardwareSupport(opencv_core.CPU_AVX2) ? "AVX2, no AVX-512 VNNI" : "no AVX2";
  }

  private float[] openCv(ModelProto m, float[] x) throws Exception {
    Path f = tmp.resolve("sat.onnx");
    Onnx.write(m, f);
    Net net = opencv_dnn.readNetFromONNX(f.toString());
    float[] y = new float[HW * HW];
    try (Mat blob = new Mat(new int[] {1, C, HW, HW}, opencv_core.CV_32F)) {
      new FloatPointer(blob.data()).put(x);
      net.setInput(blob);
      try (Mat out = net.forward()) {
        new FloatPointer(out.data()).get(y);
      }
    } finally {
      net.close();
    }
    return y;
  }
}

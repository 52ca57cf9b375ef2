package dev.splitrt.infer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OnnxRuntimeBackendTest {
  static final ModelRegistry ZOO = new ModelRegistry(Path.of(System.getProperty("splitrt.repo"), "models"));
  static final SessionOptions ONE_THREAD = new SessionOptions(1, "fp32");
  static final double TOLERANCE = 1e-4;

  private final InferenceBackend ort = new OnnxRuntimeBackend();

  @ParameterizedTest
  @ValueSource(strings = {"fs-bottlefit-cls", "fs-leyolo-nano-det"})
  void headTailAndFullMatchTheStoredReferenceOutputs(String id) throws Exception {
    LoadedModel m = ZOO.load(id);
    List<ReferenceVector> vectors = ReferenceVector.load(m);
    try (InferenceSession head = ort.open(m.head(), ONE_THREAD);
        InferenceSession tail = ort.open(m.tail(), ONE_THREAD);
        InferenceSession full = ort.open(m.full(), ONE_THREAD)) {
      double worstHead = 0;
      double worstTail = 0;
      double worstFull = 0;
      for (ReferenceVector v : vectors) {
        head.input().put(0, v.input());
        worstHead = Math.max(worstHead, maxAbsDiff(head.run(), v.headOutput()));
        tail.input().put(0, v.headOutput());
        worstTail = Math.max(worstTail, maxAbsDiff(tail.run(), v.tailOutput()));
        full.input().put(0, v.input());
        worstFull = Math.max(worstFull, maxAbsDiff(full.run(), v.fullOutput()));
      }
      System.out.printf("%s (%d vectors, %s): max |java - reference| head %.3e, tail %.3e, full %.3e%n",
          id, vectors.size(), head.backendName(), worstHead, worstTail, worstFull);
      assertThat(worstHead).isLessThanOrEqualTo(TOLERANCE);
      assertThat(worstTail).isLessThanOrEqualTo(TOLERANCE);
      assertThat(worstFull).isLessThanOrEqualTo(TOLERANCE);
    }
  }

  @Test
  void reusesItsBuffersAndSeesEachNewInputWithoutRecreatingTensors() throws Exception {
    LoadedModel m = ZOO.load("fs-bottlefit-cls");
    List<ReferenceVector> vectors = ReferenceVector.load(m);
    try (InferenceSession tail = ort.open(m.tail(), ONE_THREAD)) {
      FloatBuffer in = tail.input();
      assertThat(in.isDirect()).isTrue();
      assertThat(in.order()).isEqualTo(ByteOrder.nativeOrder());
      assertThat(in.capacity()).isEqualTo(8 * 28 * 28);

      in.put(0, vectors.get(0).headOutput());
      FloatBuffer out = tail.run();
      float[] first = copy(out);
      tail.input().put(0, vectors.get(1).headOutput());
      FloatBuffer out2 = tail.run();
      float[] second = copy(out2);

      assertThat(tail.input()).isSameAs(in);
      assertThat(out2).isSameAs(out);
      assertThat(out2.position()).isZero();
      assertThat(first).isNotEqualTo(second);
      assertThat(maxAbsDiff(FloatBuffer.wrap(first), vectors.get(0).tailOutput())).isLessThanOrEqualTo(TOLERANCE);
      assertThat(maxAbsDiff(FloatBuffer.wrap(second), vectors.get(1).tailOutput())).isLessThanOrEqualTo(TOLERANCE);
    }
  }

  @Test
  void allocatesNoTensorDataOnTheJavaHeapPerRun() throws Exception {
    LoadedModel m = ZOO.load("fs-leyolo-nano-det");
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long thread = Thread.currentThread().getId();
    try (InferenceSession head = ort.open(m.head(), ONE_THREAD)) {
      head.input().put(0, ReferenceVector.load(m).get(0).input());
      for (int i = 0; i < 5; i++) head.run();
      int runs = 40;
      long before = threads.getThreadAllocatedBytes(thread);
      for (int i = 0; i < runs; i++) head.run();
      long perRun = (threads.getThreadAllocatedBytes(thread) - before) / runs;
      int outputBytes = head.outputSpec().elementCount() * Float.BYTES;
      System.out.printf("onnxruntime-cpu %s head: %d bytes allocated on the Java heap per run (output tensor is %d bytes)%n",
          m.manifest().id(), perRun, outputBytes);
      assertThat(perRun).isLessThan(outputBytes / 16);
    }
  }

  @Test
  void closeIsIdempotentAndRunAfterCloseFails() throws Exception {
    InferenceSession s = ort.open(ZOO.load("fs-bottlefit-cls").tail(), ONE_THREAD);
    assertThat(s.backendName()).isEqualTo("onnxruntime-cpu");
    s.run();
    s.close();
    s.close();
    assertThatThrownBy(s::run).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void refusesAPartWhoseSignatureDiffersFromTheGraph() throws Exception {
    ModelPartRef real = ZOO.load("fs-bottlefit-cls").head();
    ModelPartRef renamed = new ModelPartRef(real.modelId(), real.part(), real.file(), real.sha256(),
        new TensorSpec("pixels", real.input().shape()), real.output());
    assertThatThrownBy(() -> ort.open(renamed, ONE_THREAD))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining(real.file() + ": ONNX Runtime sees input 'image' float[1, 3, 224, 224]")
        .hasMessageContaining("expects 'pixels' float[1, 3, 224, 224]")
        .hasMessageContaining("fix:");
    ModelPartRef reshaped = new ModelPartRef(real.modelId(), real.part(), real.file(), real.sha256(),
        real.input(), new TensorSpec("bottleneck", new int[] {1, 8, 14, 14}));
    assertThatThrownBy(() -> ort.open(reshaped, ONE_THREAD))
        .hasMessageContaining("sees output 'bottleneck' float[1, 8, 28, 28]")
        .hasMessageContaining("expects 'bottleneck' float[1, 8, 14, 14]");
  }

  @Test
  void refusesAMissingFile() throws Exception {
    ModelPartRef real = ZOO.load("fs-bottlefit-cls").head();
    ModelPartRef gone = new ModelPartRef(real.modelId(), "head", real.file().resolveSibling("gone.onnx"), real.sha256(),
        real.input(), real.output());
    assertThatThrownBy(() -> ort.open(gone, ONE_THREAD))
        .hasMessageContaining("gone.onnx: fs-bottlefit-cls head file not found; fix:");
  }

  private static float[] copy(FloatBuffer b) {
    float[] a = new float[b.remaining()];
    b.get(b.position(), a);
    return a;
  }

  private static double maxAbsDiff(FloatBuffer actual, float[] expected) {
    assertThat(actual.remaining()).isEqualTo(expected.length);
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      float a = actual.get(actual.position() + i);
      if (Float.isNaN(a)) return Double.POSITIVE_INFINITY;
      worst = Math.max(worst, Math.abs(a - expected[i]));
    }
    return worst;
  }
}

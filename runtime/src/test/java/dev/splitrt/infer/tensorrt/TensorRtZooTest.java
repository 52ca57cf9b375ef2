package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.splitrt.config.Yaml;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.infer.TensorSpec;
import dev.splitrt.model.ModelManifest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs only where TensorRT loads (a GPU with TensorRT 10 on the library path); elsewhere prints why it skips. */
class TensorRtZooTest {
  @TempDir static Path cache;

  @BeforeAll
  static void tensorRtLoads() {
    String why = new TensorRtBackend().unavailableReason().orElse(null);
    if (why != null) System.out.println("TensorRtZooTest skipped: " + why);
    assumeTrue(why == null, () -> "TensorRT unavailable: " + why);
  }

  private static float[] f32(Path p) throws Exception {
    FloatBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] r = new float[b.remaining()];
    b.get(r);
    return r;
  }

  @Test
  void classifierHeadFp32MatchesOnnxRuntimeAndIsCachedOnSecondOpen() throws Exception {
    Path dir = Path.of(System.getProperty("splitrt.repo", ".")).resolve("models/fs-bottlefit-cls");
    ModelManifest m = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class);
    ModelPartRef head = new ModelPartRef(m.id(), "head", dir.resolve(m.head().file()), m.head().sha256(),
        new TensorSpec(m.head().input().name(), m.head().input().dims()), new TensorSpec(m.head().output().name(), m.head().output().dims()));
    TensorRtBackend trt = new TensorRtBackend(null, cache);
    assertThat(trt.build(head, "fp32", false, s -> { }).fromCache()).isFalse();
    assertThat(trt.build(head, "fp32", false, s -> { }).fromCache()).isTrue();
    try (InferenceSession s = trt.open(head, SessionOptions.defaults())) {
      s.input().put(f32(dir.resolve("reference/input_0.f32")));
      FloatBuffer out = s.run();
      float[] ref = f32(dir.resolve("reference/head_0.f32"));
      double max = 0;
      for (int i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(out.get(i) - ref[i]));
      assertThat(max).isLessThan(1e-3);
    }
  }
}

package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.splitrt.config.Yaml;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Postprocessor;
import dev.splitrt.vision.ImageTransform;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;

/**
 * The real check: the unsplit ONNX models run with ONNX Runtime on the committed evaluation frames,
 * post-processed and measured by this package, reproduce the eval-subset figures of the model cards.
 * Preprocessing is done here (cv2-style: BGR decode, RGB, x = pixel * scale, (x - mean) / std,
 * NCHW); the frames are already at the input size, so resize and letterbox are the identity.
 */
class CardFiguresTest {
  private static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");

  @Test
  void detectorReproducesTheCardsEvalSubsetMap() throws Exception {
    Path dir = MODELS.resolve("fs-leyolo-nano-det");
    ModelManifest m = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class);
    EvalLabels labels = EvalLabels.read(dir.resolve(m.eval().labels()));
    Postprocessor post = Postprocessor.forModel(m, true);
    ImageTransform identity = new ImageTransform(m.input().width(), m.input().height(), 1, 1, 0, 0);
    MeanAveragePrecision map = new MeanAveragePrecision();
    long t0 = System.nanoTime();
    long postNanos = 0;
    try (Runner r = new Runner(dir.resolve(m.full().file()), m)) {
      for (EvalLabels.Item it : labels.items()) {
        FloatBuffer raw = r.run(dir.resolve(m.eval().images()).resolve(it.file()));
        long p0 = System.nanoTime();
        Detections d = (Detections) post.apply(raw, identity);
        postNanos += System.nanoTime() - p0;
        map.add(d, it.boxes());
      }
    }
    Map<?, ?> card = (Map<?, ?>) m.metrics().get("eval_subset");
    double card50 = ((Number) card.get("unsplit_fp32")).doubleValue();
    double card5095 = ((Number) card.get("unsplit_fp32_map50_95")).doubleValue();
    System.out.printf("fs-leyolo-nano-det, %d eval frames in %.1f s (post-processing %.2f ms/frame): "
        + "Java mAP@0.5 %.4f (card %.4f), mAP@0.5:0.95 %.4f (card %.4f)%n", labels.items().size(),
        (System.nanoTime() - t0) / 1e9, postNanos / 1e6 / labels.items().size(), map.map50(), card50, map.map50to95(), card5095);
    assertThat(labels.items()).hasSize(200);
    assertThat(map.map50()).isCloseTo(card50, within(0.005));
    assertThat(map.map50to95()).isCloseTo(card5095, within(0.005));
  }

  @Test
  void classifierReproducesTheCardsEvalSubsetTopOne() throws Exception {
    Path dir = MODELS.resolve("fs-bottlefit-cls");
    ModelManifest m = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class);
    EvalLabels labels = EvalLabels.read(dir.resolve(m.eval().labels()));
    Postprocessor post = Postprocessor.forModel(m, true);
    TopOneAccuracy top1 = new TopOneAccuracy();
    long t0 = System.nanoTime();
    try (Runner r = new Runner(dir.resolve(m.full().file()), m)) {
      for (EvalLabels.Item it : labels.items()) {
        FloatBuffer raw = r.run(dir.resolve(m.eval().images()).resolve(it.file()));
        Classification c = (Classification) post.apply(raw, null);
        assertThat(c.topK()).hasSize(m.postprocess().topK());
        top1.add(c.topK().get(0).label(), it.label());
      }
    }
    double card = ((Number) ((Map<?, ?>) m.metrics().get("eval_subset")).get("unsplit_fp32")).doubleValue();
    System.out.printf("fs-bottlefit-cls, %d eval frames in %.1f s: Java top-1 %.4f (card %.4f)%n",
        top1.count(), (System.nanoTime() - t0) / 1e9, top1.value(), card);
    assertThat(top1.count()).isEqualTo(300);
    assertThat(top1.value()).isCloseTo(card, within(0.01));
  }

  /** One ORT session and one input tensor over a direct buffer, refilled for every frame. */
  private static final class Runner implements AutoCloseable {
    private final OrtSession session;
    private final OnnxTensor input;
    private final FloatBuffer pixels;
    private final String inputName;
    private final int width;
    private final int height;
    private final float scale;
    private final float[] mean = new float[3];
    private final float[] std = new float[3];
    private final byte[] bgr;

    Runner(Path model, ModelManifest m) throws OrtException {
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
        o.setIntraOpNumThreads(2);
        o.setInterOpNumThreads(1);
        session = env.createSession(model.toString(), o);
      }
      width = m.input().width();
      height = m.input().height();
      scale = (float) m.input().scale();
      for (int c = 0; c < 3; c++) {
        mean[c] = m.input().mean().get(c).floatValue();
        std[c] = m.input().std().get(c).floatValue();
      }
      assertThat(m.input().color()).isEqualTo(ModelManifest.ColorOrder.RGB);
      inputName = m.full().input().name();
      pixels = ByteBuffer.allocateDirect(4 * 3 * width * height).order(ByteOrder.nativeOrder()).asFloatBuffer();
      input = OnnxTensor.createTensor(env, pixels, new long[] {1, 3, height, width});
      bgr = new byte[3 * width * height];
    }

    FloatBuffer run(Path jpeg) throws OrtException {
      Mat im = opencv_imgcodecs.imread(jpeg.toString(), opencv_imgcodecs.IMREAD_COLOR);
      try {
        assertThat(im.empty()).as("OpenCV could not read %s", jpeg).isFalse();
        assertThat(im.cols()).as("width of %s", jpeg).isEqualTo(width);
        assertThat(im.rows()).as("height of %s", jpeg).isEqualTo(height);
        assertThat(im.isContinuous()).isTrue();
        im.data().get(bgr);
      } finally {
        im.close();
      }
      int hw = width * height;
      for (int i = 0; i < hw; i++) {
        for (int c = 0; c < 3; c++) {             // RGB channel c is BGR byte 2 - c
          float x = (bgr[3 * i + 2 - c] & 0xFF) * scale;
          pixels.put(c * hw + i, (x - mean[c]) / std[c]);
        }
      }
      try (OrtSession.Result res = session.run(Map.of(inputName, input))) {
        return ((OnnxTensor) res.get(0)).getFloatBuffer();
      }
    }

    @Override
    public void close() throws OrtException {
      input.close();
      session.close();
    }
  }
}

package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.infer.Backends;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A learned-codec model through the runtime path (head, LearnedFeatureEncoder, v4 message, decoder, tail) on eval frames. */
class LearnedSweepTest {
  private static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");
  private static final int FRAMES = 30;

  @Test
  void messagesMatchThePythonEncodersSizesAndThePlotIsWritten(@TempDir Path tmp) throws Exception {
    ModelRegistry zoo = new ModelRegistry(MODELS);
    LoadedModel m = zoo.load("fs-entropic-cls-l0p5");
    AtomicInteger done = new AtomicInteger();
    LearnedSweep.Point p = LearnedSweep.run(m, null, Backends.byName("onnxruntime").orElseThrow(), new SessionOptions(1, "fp32"),
        FRAMES, done::set);
    assertThat(done.get()).isEqualTo(FRAMES);
    assertThat(p.frames()).isEqualTo(FRAMES);
    // the Python reference encoder's payloads of the same frames (cv2 JPEG decoding, its own ONNX Runtime): Java's
    // messages are 128-byte header + payload + CRC. Java decodes the JPEGs itself, so a latent on a rounding boundary
    // may round the other way; the sizes must still agree to well under 1 %.
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(m.dir().resolve("reference/eval-payloads.bin"))).order(ByteOrder.LITTLE_ENDIAN);
    b.getInt();
    long py = 0;
    for (int i = 0; i < FRAMES; i++) {
      int len = b.getInt();
      b.position(b.position() + len);
      py += 128 + len + 4;
    }
    assertThat(p.meanBytes()).isCloseTo((double) py / FRAMES, org.assertj.core.data.Percentage.withPercentage(1));
    assertThat(p.maxBytes()).isGreaterThanOrEqualTo((int) Math.ceil(p.meanBytes()));
    assertThat(p.metric()).isBetween(0.8, 1.0);
    assertThat(p.encodeNanosMedian()).isPositive();

    Path png = tmp.resolve("learned.png");
    LearnedRateReport.plot(List.of(p), List.of(new LearnedRateReport.Fixed("4b-x", 2914, 0.93)), 0.9333, 0.9233, 9678, 150528,
        224 * 224, "test", "top-1", png);
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img.getWidth()).isEqualTo(1300);
    String md = LearnedRateReport.markdown(List.of(p), 0.9333, 224 * 224, 150528, "top-1");
    assertThat(md).contains("`fs-entropic-cls-l0p5` | 30 |");
    assertThat(LearnedRateReport.csv(List.of(p), 224 * 224).lines()).hasSize(2);
  }

  @Test
  void aFixedWidthModelIsRefused() throws Exception {
    LoadedModel m = new ModelRegistry(MODELS).load("fs-bottlefit-cls");
    assertThatThrownBy(() -> LearnedSweep.run(m, null, Backends.byName("onnxruntime").orElseThrow(), new SessionOptions(1, "fp32"),
        1, null)).hasMessageContaining("not the learned codec");
  }
}

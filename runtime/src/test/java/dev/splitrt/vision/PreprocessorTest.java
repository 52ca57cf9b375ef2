package dev.splitrt.vision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.config.Yaml;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelManifest.ColorOrder;
import dev.splitrt.model.ModelManifest.ResizeMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.indexer.UByteIndexer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PreprocessorTest {
  static final Path MODELS = Path.of(System.getProperty("splitrt.repo", "."), "models");
  static final double SCALE = 1 / 255.0;

  @ParameterizedTest
  @ValueSource(strings = {"fs-bottlefit-cls", "fs-leyolo-nano-det"})
  void matchesTheZoosReferenceInputs(String id) throws Exception {
    Path dir = MODELS.resolve(id);
    ModelManifest.Input in = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class).input();
    JsonNode items = new ObjectMapper().readTree(dir.resolve("reference/vectors.json").toFile()).get("items");
    assertThat(items.size()).isPositive();
    Preprocessor p = new Preprocessor(in);
    int n = 3 * in.width() * in.height();
    FloatBuffer dst = FloatBuffer.allocate(n);
    double worst = 0;
    for (JsonNode item : items) {
      Path png = dir.resolve("reference").resolve(item.get("image").asText());
      float[] expected = floats(dir.resolve("reference").resolve(item.get("input").asText()));
      assertThat(expected).hasSize(n);
      try (Frame f = new Frame(0, 0, imread(png.toString(), IMREAD_COLOR))) {
        ImageTransform t = p.apply(f, dst);
        assertThat(t.toSourceX(in.width())).isEqualTo(f.width());
      }
      double max = 0;
      for (int i = 0; i < n; i++) max = Math.max(max, Math.abs(dst.get(i) - expected[i]));
      System.out.printf("%s %s: max abs diff vs %s = %.3g%n", id, png.getFileName(), item.get("input").asText(), max);
      worst = Math.max(worst, max);
    }
    assertThat(worst).isLessThanOrEqualTo(1e-4);
  }

  @Test
  void letterboxesAWideFrameCentredAndMapsPointsBack() {
    Preprocessor p = new Preprocessor(letterbox(320, 320));
    FloatBuffer dst = FloatBuffer.allocate(3 * 320 * 320);
    try (Frame f = solid(640, 360, 10, 200, 30)) {
      ImageTransform t = p.apply(f, dst);
      assertThat(t).isEqualTo(new ImageTransform(640, 360, 0.5, 0.5, 0, 70));
      // 640x360 -> 320x180 at padY = (320-180)/2 = 70: rows 0..69 and 250..319 are padding
      for (int y : new int[] {0, 69, 250, 319}) assertPixel(dst, 320, 0, y, 114, 114, 114);
      for (int y : new int[] {70, 160, 249}) assertPixel(dst, 320, 0, y, 30, 200, 10);
      assertPixel(dst, 320, 319, 160, 30, 200, 10);
      double inX = 100 * t.scaleX() + t.padX();
      double inY = 50 * t.scaleY() + t.padY();
      assertThat(inX).isEqualTo(50);
      assertThat(inY).isEqualTo(95);
      assertThat(t.toSourceX(inX)).isEqualTo(100);
      assertThat(t.toSourceY(inY)).isEqualTo(50);
    }
  }

  @Test
  void letterboxRoundsTheResizedSizeHalfToEvenAndPadsLeftFirst() {
    Preprocessor p = new Preprocessor(letterbox(320, 320));
    FloatBuffer dst = FloatBuffer.allocate(3 * 320 * 320);
    // 101x640 -> s = 0.5, 101*0.5 = 50.5 rounds (half to even, as Python's round) to 50; padX = 135
    try (Frame f = solid(101, 640, 10, 200, 30)) {
      ImageTransform t = p.apply(f, dst);
      assertThat(t).isEqualTo(new ImageTransform(101, 640, 0.5, 0.5, 135, 0));
      assertPixel(dst, 320, 134, 100, 114, 114, 114);
      assertPixel(dst, 320, 135, 100, 30, 200, 10);
      assertPixel(dst, 320, 184, 100, 30, 200, 10);
      assertPixel(dst, 320, 185, 100, 114, 114, 114);
    }
  }

  @Test
  void stretchScalesEachAxisWithoutPadding() {
    Preprocessor p = new Preprocessor(input(224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null));
    FloatBuffer dst = FloatBuffer.allocate(3 * 224 * 224);
    try (Frame f = solid(1280, 720, 10, 200, 30)) {
      ImageTransform t = p.apply(f, dst);
      assertThat(t).isEqualTo(new ImageTransform(1280, 720, 224 / 1280.0, 224 / 720.0, 0, 0));
      assertThat(t.toSourceX(112)).isCloseTo(640, within(1e-9));
      assertThat(t.toSourceY(224)).isCloseTo(720, within(1e-9));
      assertPixel(dst, 224, 0, 0, 30, 200, 10);
      assertPixel(dst, 224, 223, 223, 30, 200, 10);
    }
  }

  @Test
  void keepsBgrOrderWhenTheModelWantsBgrAndNormalisesPerChannel() {
    ModelManifest.Input in = new ModelManifest.Input(
        4, 4, ColorOrder.BGR, ResizeMode.STRETCH, null, 2.0, List.of(1.0, 2.0, 3.0), List.of(2.0, 4.0, 8.0), "nchw");
    FloatBuffer dst = FloatBuffer.allocate(48);
    try (Frame f = solid(4, 4, 10, 200, 30)) {
      new Preprocessor(in).apply(f, dst);
    }
    assertThat(dst.get(0)).isEqualTo((10 * 2f - 1) / 2);
    assertThat(dst.get(16)).isEqualTo((200 * 2f - 2) / 4);
    assertThat(dst.get(47)).isEqualTo((30 * 2f - 3) / 8);
  }

  @Test
  void reusesItsBuffersWhenTheFrameSizeChanges() {
    for (ModelManifest.Input in : List.of(letterbox(320, 320), input(224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null))) {
      int n = 3 * in.width() * in.height();
      Preprocessor reused = new Preprocessor(in);
      float[][] out = new float[3][];
      int[][] sizes = {{1280, 720}, {333, 500}, {1280, 720}};
      for (int i = 0; i < 3; i++) {
        FloatBuffer dst = FloatBuffer.allocate(n);
        try (Frame f = pattern(sizes[i][0], sizes[i][1])) {
          reused.apply(f, dst);
          FloatBuffer fresh = FloatBuffer.allocate(n);
          new Preprocessor(in).apply(f, fresh);
          assertThat(dst.array()).as("frame %d of %dx%d", i, sizes[i][0], sizes[i][1]).isEqualTo(fresh.array());
        }
        out[i] = dst.array();
      }
      assertThat(out[2]).isEqualTo(out[0]);
      assertThat(out[1]).isNotEqualTo(out[0]);
    }
  }

  @Test
  void allocatesNoJavaObjectsPerFrame() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    Assumptions.assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "this JVM cannot count allocated bytes");
    com.sun.management.ThreadMXBean counter = (com.sun.management.ThreadMXBean) mx;
    long thread = Thread.currentThread().getId();
    for (ModelManifest.Input in : List.of(letterbox(320, 320), input(224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null))) {
      Preprocessor p = new Preprocessor(in);
      FloatBuffer dst = FloatBuffer.allocate(3 * in.width() * in.height());
      try (Frame f = pattern(1280, 720)) {
        for (int i = 0; i < 200; i++) p.apply(f, dst);
        long before = counter.getThreadAllocatedBytes(thread);
        for (int i = 0; i < 500; i++) p.apply(f, dst);
        long bytes = counter.getThreadAllocatedBytes(thread) - before;
        // one object per frame would be at least 500 * 16 bytes; allow a little JVM noise
        assertThat(bytes).as("bytes allocated by 500 calls, %s", in.resize()).isLessThan(4096);
      }
    }
  }

  @Test
  void writesOnlyItsRangeWithAbsolutePuts() {
    Preprocessor p = new Preprocessor(letterbox(320, 320));
    int n = 3 * 320 * 320;
    FloatBuffer dst = ByteBuffer.allocateDirect(4 * (n + 5)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = n; i < n + 5; i++) dst.put(i, -7f);
    dst.position(11);
    try (Frame f = pattern(640, 360)) {
      p.apply(f, dst);
    }
    assertThat(dst.position()).isEqualTo(11);
    assertThat(dst.limit()).isEqualTo(n + 5);
    for (int i = n; i < n + 5; i++) assertThat(dst.get(i)).isEqualTo(-7f);
    assertThat(dst.get(0)).isCloseTo(114f / 255, within(1e-6f));
  }

  @Test
  void rejectsADestinationTooSmall() {
    Preprocessor p = new Preprocessor(letterbox(320, 320));
    try (Frame f = pattern(64, 64)) {
      assertThatThrownBy(() -> p.apply(f, FloatBuffer.allocate(3 * 320 * 320 - 1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("holds 307199 floats")
          .hasMessageContaining("needs 307200");
    }
  }

  @Test
  void rejectsManifestInputsItCannotHonour() {
    assertThatThrownBy(() -> new Preprocessor(new ModelManifest.Input(
        224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null, SCALE, List.of(0.5, 0.5), List.of(1.0, 1.0, 1.0), "nchw")))
        .hasMessageContaining("input.mean");
    assertThatThrownBy(() -> new Preprocessor(new ModelManifest.Input(
        224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null, SCALE, List.of(0.0, 0.0, 0.0), List.of(1.0, 0.0, 1.0), "nchw")))
        .hasMessageContaining("input.std[1]");
    assertThatThrownBy(() -> new Preprocessor(input(320, 320, ColorOrder.RGB, ResizeMode.LETTERBOX, null)))
        .hasMessageContaining("input.pad_value");
    assertThatThrownBy(() -> new Preprocessor(new ModelManifest.Input(
        224, 224, ColorOrder.RGB, ResizeMode.STRETCH, null, SCALE, List.of(0.0, 0.0, 0.0), List.of(1.0, 1.0, 1.0), "nhwc")))
        .hasMessageContaining("input.layout").hasMessageContaining("nhwc");
  }

  static ModelManifest.Input letterbox(int w, int h) {
    return input(w, h, ColorOrder.RGB, ResizeMode.LETTERBOX, 114);
  }

  static ModelManifest.Input input(int w, int h, ColorOrder color, ResizeMode mode, Integer pad) {
    return new ModelManifest.Input(w, h, color, mode, pad, SCALE, List.of(0.0, 0.0, 0.0), List.of(1.0, 1.0, 1.0), "nchw");
  }

  /** Checks the (R, G, B) planes at (x, y) of a mean-0/std-1/scale-1/255 RGB tensor. */
  static void assertPixel(FloatBuffer t, int side, int x, int y, int r, int g, int b) {
    int plane = side * side;
    int i = y * side + x;
    float[] got = {t.get(i) * 255, t.get(plane + i) * 255, t.get(2 * plane + i) * 255};
    assertThat(got).as("RGB at (%d, %d)", x, y).containsExactly(new float[] {r, g, b}, within(1e-3f));
  }

  static Frame solid(int w, int h, int b, int g, int r) {
    Mat m = new Mat(h, w, CV_8UC3, new Scalar(b, g, r, 0));
    return new Frame(0, 0, m);
  }

  /** A frame whose pixels all differ in a way resizing keeps visible. */
  static Frame pattern(int w, int h) {
    Mat m = new Mat(h, w, CV_8UC3);
    try (UByteIndexer ix = m.createIndexer()) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          ix.put(y, x, 0, (x * 7 + y * 3) & 0xff);
          ix.put(y, x, 1, (x ^ y) & 0xff);
          ix.put(y, x, 2, (x * y) & 0xff);
        }
      }
    }
    return new Frame(0, 0, m);
  }

  static float[] floats(Path f) throws Exception {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[b.remaining() / 4];
    b.asFloatBuffer().get(out);
    return out;
  }
}

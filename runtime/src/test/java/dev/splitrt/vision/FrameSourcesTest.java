package dev.splitrt.vision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_core.absdiff;
import static org.bytedeco.opencv.global.opencv_core.mean;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.indexer.UByteIndexer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FrameSourcesTest {
  static final Path CLS = Path.of(System.getProperty("splitrt.repo", "."), "models", "fs-bottlefit-cls");

  @TempDir Path tmp;

  @Test
  void readsTheEvalFolderSortedWithSequencesFromZero() throws Exception {
    long before = nowMicros();
    int count = 0;
    long lastTime = 0;
    try (FrameSource s = FrameSources.open(CLS.resolve("eval").toString())) {
      assertThat(s.live()).isFalse();
      assertThat(s.describe()).contains("300 images");
      for (Optional<Frame> o = s.next(); o.isPresent(); o = s.next()) {
        try (Frame f = o.get()) {
          assertThat(f.sequence()).isEqualTo(count);
          assertThat(f.width()).isEqualTo(224);
          assertThat(f.height()).isEqualTo(224);
          assertThat(f.captureEpochMicros()).isGreaterThanOrEqualTo(Math.max(before, lastTime));
          lastTime = f.captureEpochMicros();
          if (count == 0 || count == 157 || count == 299) {
            assertSamePixels(f.bgr(), CLS.resolve("eval").resolve(String.format("%06d.jpg", count)));
          }
        }
        count++;
      }
      assertThat(s.next()).isEmpty();
    }
    assertThat(count).isEqualTo(300);
    assertThat(lastTime).isLessThanOrEqualTo(nowMicros());
  }

  @Test
  void dirSchemeAndCaseInsensitiveExtensionsFindTheSameImages() throws Exception {
    writeImages(tmp, "b.PNG", "a.jpeg", "c.jpg");
    Files.writeString(tmp.resolve("notes.txt"), "not an image");
    List<Frame> frames = readAll("dir:" + tmp);
    // sorted by name: a.jpeg (written second), b.PNG (first), c.jpg (third)
    assertThat(frames).extracting(f -> (int) Math.round(mean(f.bgr()).get(0))).containsExactly(20, 10, 30);
    frames.forEach(Frame::close);
  }

  @Test
  void failsNamingAnImageThatCannotBeDecoded() throws Exception {
    writeImages(tmp, "a.png");
    Files.write(tmp.resolve("b.jpg"), new byte[] {1, 2, 3, 4});
    try (FrameSource s = FrameSources.open(tmp.toString())) {
      s.next().orElseThrow().close();
      assertThatThrownBy(s::next).isInstanceOf(IOException.class)
          .hasMessageContaining(tmp.resolve("b.jpg").toString())
          .hasMessageContaining("not skipped");
    }
  }

  @Test
  void refusesAnEmptyOrMissingFolder() {
    assertThatThrownBy(() -> FrameSources.open(tmp.toString())).isInstanceOf(IOException.class)
        .hasMessageContaining("no *.jpg, *.jpeg or *.png");
    assertThatThrownBy(() -> FrameSources.open("dir:" + tmp.resolve("absent")))
        .isInstanceOf(NoSuchFileException.class).hasMessageContaining(tmp.resolve("absent").toString());
  }

  @Test
  void readsTheDemoAviAsTheEvalFrames() throws Exception {
    List<Frame> frames = readAll(CLS.resolve("demo.avi").toString());
    try {
      assertThat(frames).hasSize(300);
      for (int i = 0; i < frames.size(); i++) {
        assertThat(frames.get(i).sequence()).isEqualTo(i);
        assertThat(frames.get(i).width()).isEqualTo(224);
        assertThat(frames.get(i).height()).isEqualTo(224);
      }
      double diff = meanAbsDiff(frames.get(0).bgr(), CLS.resolve("eval/000000.jpg"));
      double diffLast = meanAbsDiff(frames.get(299).bgr(), CLS.resolve("eval/000299.jpg"));
      double wrong = meanAbsDiff(frames.get(0).bgr(), CLS.resolve("eval/000001.jpg"));
      System.out.printf("demo.avi vs eval jpgs: mean abs pixel diff frame 0 %.2f, frame 299 %.2f (frame 0 vs jpg 1: %.2f)%n",
          diff, diffLast, wrong);
      assertThat(diff).isLessThan(4);
      assertThat(diffLast).isLessThan(4);
      assertThat(wrong).isGreaterThan(3 * diff);
    } finally {
      frames.forEach(Frame::close);
    }
  }

  @Test
  void refusesAFileThatIsNotAnMjpegAvi() throws Exception {
    Path fake = tmp.resolve("fake.avi");
    Files.writeString(fake, "RIFF but not really");
    assertThatThrownBy(() -> FrameSources.open("file:" + fake)).isInstanceOf(IOException.class)
        .hasMessageContaining(fake.toString()).hasMessageContaining("ffmpeg -i IN -c:v mjpeg");
    assertThatThrownBy(() -> FrameSources.open(tmp.resolve("absent.avi").toString()))
        .isInstanceOf(NoSuchFileException.class).hasMessageContaining("absent.avi");
  }

  @Test
  void loopsAFolderContinuingTheSequence() throws Exception {
    writeImages(tmp, "a.png", "b.png", "c.png");
    List<Frame> frames = readAll(tmp + "?loop=2");
    assertThat(frames).extracting(Frame::sequence).containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
    assertThat(frames).extracting(f -> (int) mean(f.bgr()).get(0)).containsExactly(10, 20, 30, 10, 20, 30);
    frames.forEach(Frame::close);
    try (FrameSource forever = FrameSources.open("dir:" + tmp + "?loop=0")) {
      assertThat(forever.describe()).contains("looped forever");
      for (int i = 0; i < 10; i++) forever.next().orElseThrow().close();
    }
  }

  @Test
  void loopsAnAviByReopeningIt() throws Exception {
    try (FrameSource s = FrameSources.open("file:" + CLS.resolve("demo.avi") + "?loop=2")) {
      long n = 0;
      Mat first = null;
      for (Optional<Frame> o = s.next(); o.isPresent(); o = s.next(), n++) {
        try (Frame f = o.get()) {
          assertThat(f.sequence()).isEqualTo(n);
          if (n == 0) first = f.bgr().clone();
          if (n == 300) assertThat(bytes(f.bgr())).isEqualTo(bytes(first));
        }
      }
      assertThat(n).isEqualTo(600);
    }
  }

  @Test
  void pacesAFileLikeACameraWhenAskedForFps() throws Exception {
    writeImages(tmp, "a.png", "b.png", "c.png");
    try (FrameSource s = FrameSources.open(tmp + "?fps=20&loop=2")) {
      assertThat(s.live()).isTrue();
      assertThat(s.describe()).contains("paced at 20.0 fps").contains("looped 2 times");
      long start = System.nanoTime();
      long startEpochMicros = ReaderSource.epochMicros(java.time.Instant.now());
      List<Long> times = new ArrayList<>();
      for (Optional<Frame> o = s.next(); o.isPresent(); o = s.next()) {
        try (Frame f = o.get()) {
          times.add(f.captureEpochMicros());
        }
      }
      long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(times).hasSize(6);
      // 6 frames at 20 fps: the last is due 5 periods (250 ms) after the first
      assertThat(elapsedMs).isGreaterThanOrEqualTo(245);
      // Pacing is fixed-rate (a camera's clock, not "sleep a period after each read"), so the gap between two capture
      // stamps may be shorter than a period after a slow image decode; what must hold is that no frame comes early:
      // frame i is released no sooner than i periods after the first call (1 ms slack: the stamps are wall-clock, the
      // pacer runs on the monotonic clock).
      for (int i = 0; i < times.size(); i++) {
        assertThat(times.get(i) - startEpochMicros).as("frame %d released %d periods in", i, i).isGreaterThanOrEqualTo(i * 50_000L - 1_000);
      }
    }
    try (FrameSource unpaced = FrameSources.open(tmp.toString())) {
      assertThat(unpaced.live()).isFalse();
    }
  }

  @Test
  void readsRawBgrFramesFromAFileUntilACleanEnd() throws Exception {
    Path raw = tmp.resolve("frames.bgr");
    Files.write(raw, rawFrames(4, 2, 3, 3, 0));
    try (FrameSource s = FrameSources.open("pipe:" + raw + "?width=4&height=2&format=bgr")) {
      assertThat(s.live()).isTrue();
      assertThat(s.describe()).isEqualTo("pipe " + raw + " 4x2 bgr");
      for (int k = 0; k < 3; k++) {
        try (Frame f = s.next().orElseThrow()) {
          assertThat(f.sequence()).isEqualTo(k);
          assertThat(bytes(f.bgr())).containsExactly(frameBytes(4, 2, 3, k));
        }
      }
      assertThat(s.next()).isEmpty();
    }
  }

  @Test
  void convertsRgbAndGrayPipeFramesToBgr() throws Exception {
    Path rgb = tmp.resolve("frames.rgb");
    Files.write(rgb, new byte[] {1, 2, 3, 4, 5, 6});
    try (FrameSource s = FrameSources.open("pipe:" + rgb + "?width=2&height=1&format=rgb");
        Frame f = s.next().orElseThrow()) {
      assertThat(bytes(f.bgr())).containsExactly(3, 2, 1, 6, 5, 4);
    }
    Path gray = tmp.resolve("frames.gray");
    Files.write(gray, new byte[] {7, 9});
    try (FrameSource s = FrameSources.open("pipe:" + gray + "?width=2&height=1&format=gray");
        Frame f = s.next().orElseThrow()) {
      assertThat(bytes(f.bgr())).containsExactly(7, 7, 7, 9, 9, 9);
    }
  }

  @Test
  void failsOnAPartialLastFrameNamingTheByteCount() throws Exception {
    Path raw = tmp.resolve("cut.bgr");
    Files.write(raw, rawFrames(4, 2, 3, 2, 5));
    try (FrameSource s = FrameSources.open("pipe:" + raw + "?width=4&height=2")) {
      s.next().orElseThrow().close();
      s.next().orElseThrow().close();
      assertThatThrownBy(s::next).isInstanceOf(IOException.class)
          .hasMessageContaining("partial last frame: 5 of 24 bytes")
          .hasMessageContaining("after 2 whole frames");
    }
  }

  @Test
  void readsFromStandardInput() throws Exception {
    InputStream saved = System.in;
    System.setIn(new ByteArrayInputStream(rawFrames(3, 2, 3, 2, 0)));
    try (FrameSource s = FrameSources.open("pipe:stdin?width=3&height=2")) {
      assertThat(bytes(s.next().orElseThrow().bgr())).containsExactly(frameBytes(3, 2, 3, 0));
      assertThat(bytes(s.next().orElseThrow().bgr())).containsExactly(frameBytes(3, 2, 3, 1));
      assertThat(s.next()).isEmpty();
    } finally {
      System.setIn(saved);
    }
  }

  @Test
  void readsAFifoFedByAnotherProcessLikeWriter() throws Exception {
    Path fifo = tmp.resolve("cam.bgr");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
    Assumptions.assumeTrue(mk.waitFor() == 0, "mkfifo is not available on this machine");
    byte[] data = rawFrames(8, 4, 3, 3, 0);
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      try (OutputStream out = Files.newOutputStream(fifo)) {
        for (int i = 0; i < data.length; i += 7) out.write(data, i, Math.min(7, data.length - i));  // odd chunks
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    try (FrameSource s = FrameSources.open("pipe:" + fifo + "?width=8&height=4")) {
      for (int k = 0; k < 3; k++) {
        try (Frame f = s.next().orElseThrow()) {
          assertThat(bytes(f.bgr())).containsExactly(frameBytes(8, 4, 3, k));
        }
      }
      assertThat(s.next()).isEmpty();
    }
    writer.get(10, TimeUnit.SECONDS);
  }

  @Test
  void namesAMissingPipeAndHowToCreateIt() {
    Path absent = tmp.resolve("absent.fifo");
    assertThatThrownBy(() -> FrameSources.open("pipe:" + absent + "?width=4&height=2"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining(absent.toString()).hasMessageContaining("mkfifo");
  }

  @Test
  void namesAMissingCameraAndTheFix() {
    Path dev = Path.of("/dev/video97");
    Assumptions.assumeFalse(Files.exists(dev), "this machine has a /dev/video97");
    assertThatThrownBy(() -> FrameSources.open("v4l2:///dev/video97?width=640&height=480&fps=30"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("/dev/video97").hasMessageContaining("v4l2-ctl --list-devices");
  }

  @Test
  void refusesADeviceThatIsNotACamera() {
    assertThatThrownBy(() -> FrameSources.open("v4l2:///dev/null"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("/dev/null: cannot be opened as a V4L2 capture device");
  }

  @Test
  void readsARealCameraWhenOneIsAttached() throws Exception {
    Assumptions.assumeTrue(Files.exists(Path.of("/dev/video0")),
        "no V4L2 camera (/dev/video0) on this machine: a real camera cannot be tested here; "
            + "only the missing-device and not-a-camera errors are");
    try (FrameSource s = FrameSources.open("v4l2:///dev/video0?width=640&height=480");
        Frame f = s.next().orElseThrow()) {
      assertThat(s.live()).isTrue();
      assertThat(f.sequence()).isZero();
      assertThat(f.width()).isPositive();
    }
  }

  @Test
  void closingAFrameTwiceIsHarmlessAndItsPixelsAreGone() throws Exception {
    writeImages(tmp, "a.png");
    FrameSource s = FrameSources.open(tmp.toString());
    Frame f = s.next().orElseThrow();
    f.close();
    f.close();
    assertThatThrownBy(f::bgr).isInstanceOf(IllegalStateException.class).hasMessageContaining("frame 0 was closed");
    assertThat(f.width()).isEqualTo(16);
    s.close();
    s.close();
    assertThatThrownBy(s::next).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "rtsp://camera/stream",
      "http://example.com/a.mjpg",
      "dir:models?speed=2",
      "dir:models?loop=2&loop=3",
      "dir:models?loop=-1",
      "dir:models?loop=two",
      "dir:models?fps=0",
      "dir:models?fps=fast",
      "dir:models?",
      "dir:models?loop",
      "dir:",
      "file:clip.mp4",
      "clip.mp4",
      "v4l2:/dev/video0",
      "v4l2:///dev/video0?loop=2",
      "v4l2:///dev/video0?width=0",
      "pipe:stdin",
      "pipe:stdin?width=640",
      "pipe:stdin?width=640&height=480&format=yuv",
      "pipe:stdin?width=640&height=480&fps=30",
      "pipe:stdin?width=640&height=480&loop=2",
      "pipe:?width=640&height=480",
      "pipe:stdin?width=99999&height=480",
      " "})
  void rejectsMalformedUrisListingTheValidForms(String uri) {
    assertThatThrownBy(() -> FrameSources.open(uri))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("source '" + uri + "'")
        .hasMessageContaining("valid sources:")
        .hasMessageContaining("pipe:stdin?width=W&height=H")
        .hasMessageContaining("v4l2:///dev/videoN");
  }

  @Test
  void saysWhatIsWrongWithAUri() {
    assertThatThrownBy(() -> FrameSources.open("rtsp://camera/stream")).hasMessageContaining("unknown scheme 'rtsp:'");
    assertThatThrownBy(() -> FrameSources.open("dir:/nowhere?speed=2"))
        .hasMessageContaining("unknown option 'speed' for a folder; its options are fps, loop");
    assertThatThrownBy(() -> FrameSources.open("pipe:stdin?width=640"))
        .hasMessageContaining("option height is required");
    assertThatThrownBy(() -> FrameSources.open("pipe:stdin?width=640&height=480&loop=2"))
        .hasMessageContaining("unknown option 'loop' for a pipe");
    assertThatThrownBy(() -> FrameSources.open("clip.mp4")).hasMessageContaining("no FFmpeg");
    assertThatThrownBy(() -> FrameSources.open("dir:x?loop=-1")).hasMessageContaining("loop=-1 is out of range; use 0..");
  }

  @Test
  void parsesTheDocumentedForms() {
    assertThat(FrameSources.parse("v4l2:///dev/video0?width=1280&height=720&fps=30"))
        .isEqualTo(new FrameSources.Spec(FrameSources.Kind.V4L2, "/dev/video0", 1, 30, 1280, 720, null));
    assertThat(FrameSources.parse("pipe:stdin?width=1280&height=720"))
        .isEqualTo(new FrameSources.Spec(FrameSources.Kind.PIPE, "stdin", 1, 0, 1280, 720, PipeReader.Format.BGR));
    assertThat(FrameSources.parse("pipe:/tmp/cam?height=2&width=4&format=gray"))
        .isEqualTo(new FrameSources.Spec(FrameSources.Kind.PIPE, "/tmp/cam", 1, 0, 4, 2, PipeReader.Format.GRAY));
    assertThat(FrameSources.parse("some/clip.AVI?loop=3&fps=12.5"))
        .isEqualTo(new FrameSources.Spec(FrameSources.Kind.AVI, "some/clip.AVI", 3, 12.5, 0, 0, null));
    assertThat(FrameSources.parse("./images:2024").kind()).isEqualTo(FrameSources.Kind.FOLDER);
    assertThat(FrameSources.parse("/data/eval").target()).isEqualTo("/data/eval");
  }

  // --------------------------------------------------------------------------- helpers

  static long nowMicros() {
    return ReaderSource.epochMicros(java.time.Instant.now());
  }

  /** 16x8 solid images whose blue channel is 10, 20, 30, ... in the order given. */
  static void writeImages(Path dir, String... names) {
    for (int i = 0; i < names.length; i++) {
      Mat m = new Mat(8, 16, CV_8UC3, new Scalar(10 * (i + 1), 100, 200, 0));
      assertThat(imwrite(dir.resolve(names[i]).toString(), m)).isTrue();
      m.close();
    }
  }

  static List<Frame> readAll(String uri) throws IOException {
    List<Frame> out = new ArrayList<>();
    try (FrameSource s = FrameSources.open(uri)) {
      for (Optional<Frame> o = s.next(); o.isPresent(); o = s.next()) out.add(o.get());
    }
    return out;
  }

  static byte[] frameBytes(int w, int h, int c, int k) {
    byte[] b = new byte[w * h * c];
    for (int i = 0; i < b.length; i++) b[i] = (byte) (i * 5 + k * 31 + 1);
    return b;
  }

  static byte[] rawFrames(int w, int h, int c, int frames, int extraBytes) {
    int n = w * h * c;
    byte[] all = new byte[frames * n + extraBytes];
    for (int k = 0; k < frames; k++) System.arraycopy(frameBytes(w, h, c, k), 0, all, k * n, n);
    return all;
  }

  static byte[] bytes(Mat m) {
    byte[] b = new byte[(int) (m.total() * m.channels())];
    try (UByteIndexer ix = m.createIndexer()) {
      int i = 0;
      for (int y = 0; y < m.rows(); y++) {
        for (int x = 0; x < m.cols(); x++) {
          for (int c = 0; c < m.channels(); c++) b[i++] = (byte) ix.get(y, x, c);
        }
      }
    }
    return b;
  }

  static void assertSamePixels(Mat m, Path jpg) {
    Mat ref = imread(jpg.toString(), IMREAD_COLOR);
    assertThat(bytes(m)).as("pixels of %s", jpg).isEqualTo(bytes(ref));
    ref.close();
  }

  static double meanAbsDiff(Mat m, Path jpg) {
    Mat ref = imread(jpg.toString(), IMREAD_COLOR);
    Mat d = new Mat();
    absdiff(m, ref, d);
    Scalar s = mean(d);
    double v = (s.get(0) + s.get(1) + s.get(2)) / 3;
    d.close();
    ref.close();
    return v;
  }
}

package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.github.luben.zstd.ZstdCompressCtx;
import dev.splitrt.codec.FeatureFrameException.Reason;
import java.lang.management.ManagementFactory;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The strict decoder on what FeatureFrame v2 adds: zstd payloads and three-range parameters. */
class FeatureDecoderV2Test {
  private static final int[] BOTTLEFIT = {1, 8, 28, 28};
  private static final FeatureDecoder BIG = new FeatureDecoder(Integer.MAX_VALUE);

  private static FeatureFrameException reject(FeatureDecoder d, byte[] m) {
    FeatureFrameException e = catchThrowableOfType(() -> d.decode(m), FeatureFrameException.class);
    assertThat(e).as("decoder must reject this message").isNotNull();
    return e;
  }

  private static FeatureFrameException reject(byte[] m) {
    return reject(BIG, m);
  }

  private static long allocatedBytes() {
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    assertThat(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled()).isTrue();
    return mx.getThreadAllocatedBytes(Thread.currentThread().getId());
  }

  private static byte[] zstd(byte[] data, boolean contentSize) {
    try (ZstdCompressCtx c = new ZstdCompressCtx()) {
      c.setLevel(3);
      c.setContentSize(contentSize);
      return c.compress(data);
    }
  }

  private static byte[] encoded(CodecSpec spec) {
    float[] x = ThreeRangeCodecTest.outlierHeavy(BOTTLEFIT, 8);
    return new FeatureEncoder(spec, BOTTLEFIT)
        .encode(new FrameHeader("dev-1", "fs-bottlefit-cls", new byte[32], 3, 4, 1920, 1080), FloatBuffer.wrap(x));
  }

  /** A v2 zstd frame of shape [1, 8, 28, 28], 8 bits per tensor, carrying {@code payload}. */
  private static Forge zstdForge(byte[] payload) {
    Forge f = new Forge();
    f.version = 2;
    f.entropy = 2;
    f.dims = new long[] {1, 8, 28, 28};
    f.payload = payload;
    return f;
  }

  /** A valid v2 three-range frame: shape [1, 2, 2], 2 bits, levels 1/2/1. */
  private static Forge threeRangeForge() {
    Forge f = new Forge();
    f.version = 2;
    f.bits = 2;
    f.granularity = 2;
    f.params = new float[] {1f, -5f, 0.5f, 0f, 1f, 9f};
    f.levels = new int[] {1, 2, 1};
    f.payload = new byte[] {(byte) 0b11_10_01_00};
    return f;
  }

  @Test
  void readsAForgedThreeRangeFrameByTheDocumentedRule() throws Exception {
    FeatureFrame f = BIG.decode(threeRangeForge().bytes());
    assertThat(f.codec()).isEqualTo(new CodecSpec(2, Granularity.THREE_RANGE, false, Entropy.NONE));
    assertThat(f.levels()).containsExactly(1, 2, 1);
    float[] y = new float[4];
    f.dequantizeInto(FloatBuffer.wrap(y));
    // codes 0, 1, 2, 3: range 0 (code 0) -> -5; range 1 (codes 1, 2) -> 0, 0.5; range 2 (code 3) -> 9
    assertThat(y).containsExactly(-5f, 0f, 0.5f, 9f);
  }

  @Test
  void readsZstdAndThreeRangeFramesOfEveryKind() throws Exception {
    for (Granularity g : Granularity.values()) {
      for (Entropy e : Entropy.values()) {
        CodecSpec spec = new CodecSpec(4, g, false, e);
        FeatureFrame f = new FeatureDecoder(6272).decode(encoded(spec));
        assertThat(f.codec()).isEqualTo(spec);
      }
    }
  }

  @Test
  void rejectsTruncationAtEveryLengthOfVersionTwoFrames() throws Exception {
    for (CodecSpec spec : new CodecSpec[] {
        new CodecSpec(4, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.ZSTD),
        new CodecSpec(2, Granularity.THREE_RANGE, false, Entropy.NONE),
        new CodecSpec(6, Granularity.PER_CHANNEL, true, Entropy.ZSTD)}) {
      byte[] full = encoded(spec);
      assertThat(BIG.decode(full).elementCount()).isEqualTo(6272);
      for (int len = 0; len < full.length; len++) {
        FeatureFrameException e = reject(Arrays.copyOf(full, len));
        assertThat(e.reason()).as("%s truncated to %d of %d bytes: %s", spec, len, full.length, e.getMessage())
            .isEqualTo(Reason.TRUNCATED);
      }
    }
  }

  @Test
  void rejectsVersionTwoFeaturesInVersionOneFrames() {
    Forge f = threeRangeForge();
    f.version = 1;
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("granularity 2 (three-range) needs version 2");
    Forge z = zstdForge(zstd(new byte[6272], true));
    z.version = 1;
    e = reject(z.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("entropy 2 (zstd) needs version 2");
  }

  @Test
  void rejectsUnknownVersionTwoIds() {
    Forge f = threeRangeForge();
    f.granularity = 4;
    assertThat(reject(f.bytes())).hasMessageContaining("granularity 4; allowed 0 (per tensor), 1 (per channel), 2 (three-range)");
    Forge z = zstdForge(zstd(new byte[6272], true));
    z.entropy = 3;
    assertThat(reject(z.bytes())).hasMessageContaining("entropy 3; allowed 0 (none), 1 (deflate), 2 (zstd)");
  }

  @Test
  void rejectsSymmetricThreeRange() {
    Forge f = threeRangeForge();
    f.symmetric = 1;
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("three-range frames are asymmetric");
  }

  @Test
  void rejectsThreeRangeParameterCountsThatDisagreeWithTheShape() {
    Forge f = threeRangeForge();
    f.params = new float[] {1f, 0f};
    f.levels = new int[] {4};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("parameter count 1").hasMessageContaining("three-range per-tensor frame has 3");
    f = threeRangeForge();
    f.granularity = 3;
    e = reject(f.bytes());
    assertThat(e).hasMessageContaining("parameter count 3").hasMessageContaining("2 channels (axis 1) x 3 ranges = 6");
  }

  @Test
  void rejectsLevelsThatDoNotShareTheCodeSpaceExactly() {
    for (int[] levels : new int[][] {{1, 1, 1}, {2, 2, 1}, {0, 0, 0}, {65535, 1, 0}, {4, 65535, 65535}}) {
      Forge f = threeRangeForge();
      f.levels = levels;
      FeatureFrameException e = reject(f.bytes());
      assertThat(e.reason()).as(Arrays.toString(levels)).isEqualTo(Reason.BAD_HEADER);
      assertThat(e).hasMessageContaining("levels " + levels[0] + ", " + levels[1] + ", " + levels[2])
          .hasMessageContaining("2^2 = 4 codes");
    }
    Forge ok = threeRangeForge();
    ok.levels = new int[] {0, 4, 0};
    assertThat(catchThrowableOfType(() -> BIG.decode(ok.bytes()), FeatureFrameException.class)).isNull();
  }

  @Test
  void rejectsBadScalesOfAnyRange() {
    for (int k = 0; k < 3; k++) {
      Forge f = threeRangeForge();
      f.params[2 * k] = 0f;
      FeatureFrameException e = reject(f.bytes());
      assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
      assertThat(e).hasMessageContaining("scale[" + k + "] = 0.0");
    }
    Forge f = threeRangeForge();
    f.params[5] = Float.POSITIVE_INFINITY;
    assertThat(reject(f.bytes())).hasMessageContaining("zero point[2] = Infinity");
  }

  @Test
  void rejectsAZstdBombByItsDeclaredSizeWithoutAllocating() {
    byte[] m = zstdForge(zstd(new byte[32 << 20], true)).bytes();
    reject(new FeatureDecoder(6272), m);
    long before = allocatedBytes();
    FeatureFrameException e = reject(new FeatureDecoder(6272), m);
    long allocated = allocatedBytes() - before;
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("declares 33554432 bytes of content but").hasMessageContaining("need 6272");
    assertThat(allocated).as("bytes allocated while rejecting a 32 MiB zstd bomb").isLessThan(64 * 1024);
  }

  @Test
  void rejectsAZstdFrameThatLiesAboutItsSizeWithinTheExactBuffer() {
    byte[] bomb = zstd(new byte[32 << 20], true);
    // Frame header: magic (4), descriptor (1); with a 4-byte content size field, patch it to 6272.
    int descriptor = bomb[4] & 0xFF;
    assertThat(descriptor >>> 6).as("content size field flag: 4 bytes").isEqualTo(2);
    int fcsAt = 5 + ((descriptor & 0x20) == 0 ? 1 : 0);
    byte[] lying = bomb.clone();
    lying[fcsAt] = (byte) 6272;
    lying[fcsAt + 1] = (byte) (6272 >>> 8);
    lying[fcsAt + 2] = 0;
    lying[fcsAt + 3] = 0;
    byte[] m = zstdForge(lying).bytes();
    reject(new FeatureDecoder(6272), m);
    long before = allocatedBytes();
    FeatureFrameException e = reject(new FeatureDecoder(6272), m);
    long allocated = allocatedBytes() - before;
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(allocated).as("bytes allocated while refusing the lying frame").isLessThan(64 * 1024);
  }

  @Test
  void rejectsZstdPayloadsOfTheWrongSizeOrForm() {
    FeatureFrameException e = reject(zstdForge(zstd(new byte[100], true)).bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("declares 100 bytes");

    e = reject(zstdForge(zstd(new byte[6272], false)).bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("does not declare its content size");

    byte[] garbage = new byte[300];
    new Random(5).nextBytes(garbage);
    e = reject(zstdForge(garbage).bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("valid zstd frame header");

    byte[] exact = zstd(new byte[6272], true);
    e = reject(zstdForge(Arrays.copyOf(exact, exact.length + 3)).bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("3 bytes").hasMessageContaining("follow the end of the zstd frame");

    byte[] twice = Arrays.copyOf(exact, 2 * exact.length);
    System.arraycopy(exact, 0, twice, exact.length, exact.length);
    assertThat(reject(zstdForge(twice).bytes())).hasMessageContaining("follow the end of the zstd frame");

    assertThat(reject(zstdForge(Arrays.copyOf(exact, exact.length - 2)).bytes()).reason()).isEqualTo(Reason.BAD_PAYLOAD);

    // A block header claiming more than the payload holds (bytes 0-5: magic, descriptor, content size).
    byte[] badBlock = exact.clone();
    int descriptor = badBlock[4] & 0xFF;
    int blockAt = 5 + ((descriptor & 0x20) == 0 ? 1 : 0) + new int[] {(descriptor & 0x20) != 0 ? 1 : 0, 2, 4, 8}[descriptor >>> 6];
    badBlock[blockAt + 2] = (byte) 0x1f;
    assertThat(reject(zstdForge(badBlock).bytes())).hasMessageContaining("not one complete zstd frame");

    assertThat(reject(zstdForge(new byte[0]).bytes())).hasMessageContaining("payload length 0");
  }

  @Test
  void checksTheZstdPayloadsPaddingBitsToo() {
    Forge f = zstdForge(null);
    f.bits = 6;
    f.dims = new long[] {1, 1, 5};
    f.payload = zstd(new byte[] {0, 0, 0, (byte) 0x40}, true);
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("padding bits");
  }

  @Test
  void aDecoderIsSafeToShareAcrossThreads() throws Exception {
    byte[] z = encoded(new CodecSpec(4, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.ZSTD));
    byte[] d = encoded(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.DEFLATE));
    FeatureDecoder shared = new FeatureDecoder(6272);
    FeatureFrame zRef = shared.decode(z);
    FeatureFrame dRef = shared.decode(d);
    Thread[] threads = new Thread[4];
    Throwable[] failure = new Throwable[1];
    for (int t = 0; t < threads.length; t++) {
      threads[t] = new Thread(() -> {
        try {
          for (int k = 0; k < 200; k++) {
            assertThat(shared.decode(z)).isEqualTo(zRef);
            assertThat(shared.decode(d)).isEqualTo(dRef);
          }
        } catch (Throwable e) {
          synchronized (failure) {
            failure[0] = e;
          }
        }
      });
      threads[t].start();
    }
    for (Thread t : threads) t.join();
    assertThat(failure[0]).isNull();
  }
}

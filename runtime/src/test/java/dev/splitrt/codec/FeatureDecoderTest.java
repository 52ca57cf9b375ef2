package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.splitrt.codec.FeatureFrameException.Reason;
import java.lang.management.ManagementFactory;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;

class FeatureDecoderTest {
  private static final int[] BOTTLEFIT = {1, 8, 28, 28};
  private static final FeatureDecoder BIG = new FeatureDecoder(Integer.MAX_VALUE);

  private static byte[] encoded(CodecSpec spec) {
    float[] x = new float[6272];
    Random r = new Random(1);
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    return new FeatureEncoder(spec, BOTTLEFIT)
        .encode(new FrameHeader("dev-1", "fs-bottlefit-cls", new byte[32], 3, 4, 1920, 1080), FloatBuffer.wrap(x));
  }

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
    assertThat(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled())
        .as("this JVM measures per-thread allocation").isTrue();
    return mx.getThreadAllocatedBytes(Thread.currentThread().getId());
  }

  private static byte[] zlib(byte[] data) {
    Deflater d = new Deflater(9);
    d.setInput(data);
    d.finish();
    byte[] out = new byte[data.length + 1024];
    int n = 0;
    while (!d.finished()) n += d.deflate(out, n, out.length - n);
    d.end();
    return Arrays.copyOf(out, n);
  }

  @Test
  void acceptsAFrameForgedFromTheDocumentedLayout() throws Exception {
    FeatureFrame f = BIG.decode(new Forge().bytes());
    assertThat(f.header().deviceId()).isEqualTo("dev-1");
    assertThat(f.header().modelId()).isEqualTo("model-1");
    assertThat(f.header().sequence()).isEqualTo(42);
    assertThat(f.header().sourceWidth()).isEqualTo(640);
    assertThat(f.header().sourceHeight()).isEqualTo(480);
    assertThat(f.shape()).containsExactly(1, 2, 2);
    float[] y = new float[4];
    f.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(-1f, -0.5f, 0f, 0.5f);
  }

  @Test
  void rejectsASourceSizeWithOnlyOneSideZero() {
    Forge f = new Forge();
    f.sourceWidth = 0;
    f.sourceHeight = 480;
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("at offset 68").hasMessageContaining("source width 0 and source height 480");
    f.sourceWidth = 640;
    f.sourceHeight = 0;
    e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("at offset 70").hasMessageContaining("source width 640 and source height 0");
  }

  @Test
  void acceptsAnUnknownSourceSizeAndTheLargestOne() throws Exception {
    Forge f = new Forge();
    f.sourceWidth = 0;
    f.sourceHeight = 0;
    FrameHeader h = BIG.decode(f.bytes()).header();
    assertThat(h.sourceWidth()).isZero();
    assertThat(h.sourceHeight()).isZero();
    f.sourceWidth = 65535;
    f.sourceHeight = 65535;
    h = BIG.decode(f.bytes()).header();
    assertThat(h.sourceWidth()).isEqualTo(65535);
    assertThat(h.sourceHeight()).isEqualTo(65535);
  }

  @Test
  void rejectsTruncationAtEveryLength() throws Exception {
    for (byte[] full : new byte[][] {
        encoded(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE)),
        encoded(new CodecSpec(6, Granularity.PER_CHANNEL, true, Entropy.DEFLATE))}) {
      assertThat(BIG.decode(full).elementCount()).isEqualTo(6272);
      for (int len = 0; len < full.length; len++) {
        FeatureFrameException e = reject(Arrays.copyOf(full, len));
        assertThat(e.reason()).as("truncated to %d of %d bytes: %s", len, full.length, e.getMessage())
            .isEqualTo(Reason.TRUNCATED);
      }
    }
    assertThat(reject((byte[]) null).reason()).isEqualTo(Reason.TRUNCATED);
  }

  @Test
  void rejectsWrongMagic() {
    Forge f = new Forge();
    f.magic = new byte[] {'S', 'R', 'T', 'G'};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_MAGIC);
    assertThat(e).hasMessageContaining("53 52 54 47");
    assertThat(reject(new byte[] {'{', '"'}).reason()).isEqualTo(Reason.BAD_MAGIC);
  }

  @Test
  void rejectsUnsupportedVersion() {
    for (int v : new int[] {0, 4, 255}) {
      Forge f = new Forge();
      f.version = v;
      FeatureFrameException e = reject(f.bytes());
      assertThat(e.reason()).isEqualTo(Reason.UNSUPPORTED_VERSION);
      assertThat(e).hasMessageContaining("version " + v).hasMessageContaining("reads versions 1, 2 and 3");
    }
  }

  @Test
  void rejectsForgedHugeDimensionsWithoutAllocating() {
    Forge f = new Forge();
    f.dims = new long[] {65535, 65535, 65535, 65535};
    f.payloadLength = 0xFFFF_FFFFL;
    byte[] m = f.bytes();
    reject(m);
    long before = allocatedBytes();
    FeatureFrameException e = reject(m);
    long allocated = allocatedBytes() - before;
    assertThat(e.reason()).isEqualTo(Reason.TOO_LARGE);
    assertThat(e).hasMessageContaining("[65535, 65535, 65535, 65535]").hasMessageContaining("overflows");
    assertThat(allocated).as("bytes allocated while rejecting").isLessThan(64 * 1024);

    f.dims = new long[] {65535, 65535, 65535};
    e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.TOO_LARGE);
    assertThat(e).hasMessageContaining("281462092005375").hasMessageContaining(Integer.toString(Integer.MAX_VALUE));
  }

  @Test
  void rejectsDimsProductOverflow() {
    Forge f = new Forge();
    f.dims = new long[] {0xFFFF_FFFFL, 0xFFFF_FFFFL, 0xFFFF_FFFFL, 1, 1, 1, 1, 1};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.TOO_LARGE);
    assertThat(e).hasMessageContaining("4294967295").hasMessageContaining("overflows 64 bits");
  }

  @Test
  void rejectsBadRankAndZeroDims() {
    Forge f = new Forge();
    f.dims = new long[] {1, 1, 1, 1, 1, 1, 1, 1, 4};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("rank 9");
    f.dims = new long[0];
    assertThat(reject(f.bytes())).hasMessageContaining("rank 0");
    f.dims = new long[] {1, 0, 4};
    e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("dim[1] = 0");
  }

  @Test
  void rejectsChannelCountMismatch() {
    Forge f = new Forge();
    f.granularity = 1;
    f.dims = new long[] {1, 2, 2};
    f.params = new float[] {0.5f, 0f, 0.5f, 0f, 0.5f, 0f};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("parameter count 3").hasMessageContaining("2 channels");
    f.params = new float[] {0.5f, 0f, 0.5f, 0f};
    f.dims = new long[] {4};
    assertThat(reject(f.bytes())).hasMessageContaining("rank 1");
  }

  @Test
  void rejectsPayloadLengthThatDisagreesWithTheShape() {
    Forge f = new Forge();
    f.payload = new byte[] {0, 1, 2};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("payload length 3").hasMessageContaining("pack into 4 bytes");
    f.payload = new byte[] {0, 1, 2, 3};
    f.bits = 4;
    assertThat(reject(f.bytes())).hasMessageContaining("payload length 4").hasMessageContaining("pack into 2 bytes");
  }

  @Test
  void rejectsCorruptionThroughTheCrc() {
    byte[] m = encoded(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE));
    byte[] flipped = m.clone();
    flipped[200] ^= 0x10;
    FeatureFrameException e = reject(flipped);
    assertThat(e.reason()).isEqualTo(Reason.CRC_MISMATCH);
    assertThat(e).hasMessageContaining("stored CRC-32C").hasMessageContaining("computed");
    Forge f = new Forge();
    f.crcXor = 1;
    assertThat(reject(f.bytes()).reason()).isEqualTo(Reason.CRC_MISMATCH);
  }

  @Test
  void rejectsTrailingBytesAfterTheCrc() {
    Forge f = new Forge();
    f.trailing = new byte[] {0};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("1 trailing bytes");
  }

  @Test
  void rejectsDeflateBombWithoutInflatingIt() {
    Forge f = new Forge();
    f.entropy = 1;
    f.dims = new long[] {1, 8, 28, 28};
    f.payload = zlib(new byte[32 << 20]);
    byte[] m = f.bytes();
    reject(m);
    long before = allocatedBytes();
    FeatureFrameException e = reject(new FeatureDecoder(6272), m);
    long allocated = allocatedBytes() - before;
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("more than the 6272 bytes");
    assertThat(allocated).as("bytes allocated while rejecting a 32 MiB bomb").isLessThan(256 * 1024);
  }

  @Test
  void rejectsDeflateClaimsBeyondTheMaximumRatioBeforeAllocating() {
    Forge f = new Forge();
    f.entropy = 1;
    f.dims = new long[] {1, 1000, 1000, 1000};
    f.payload = zlib(new byte[100]);
    byte[] m = f.bytes();
    reject(m);
    long before = allocatedBytes();
    FeatureFrameException e = reject(m);
    long allocated = allocatedBytes() - before;
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("cannot inflate to the 1000000000 bytes").hasMessageContaining("1032:1");
    assertThat(allocated).isLessThan(64 * 1024);
  }

  @Test
  void rejectsDeflatePayloadsOfTheWrongSizeOrForm() {
    Forge f = new Forge();
    f.entropy = 1;
    f.dims = new long[] {1, 8, 28, 28};
    f.payload = zlib(new byte[100]);
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("only 100 of the 6272");

    byte[] garbage = new byte[300];
    new Random(5).nextBytes(garbage);
    f.payload = garbage;
    assertThat(reject(f.bytes()).reason()).isEqualTo(Reason.BAD_PAYLOAD);

    byte[] exact = zlib(new byte[6272]);
    f.payload = Arrays.copyOf(exact, exact.length + 3);
    e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("3 bytes").hasMessageContaining("follow the end");

    f.payload = Arrays.copyOf(exact, exact.length - 2);
    assertThat(reject(f.bytes()).reason()).isEqualTo(Reason.BAD_PAYLOAD);

    f.payload = new byte[0];
    assertThat(reject(f.bytes())).hasMessageContaining("payload length 0");
  }

  @Test
  void enforcesMaxElements() throws Exception {
    byte[] m = encoded(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.DEFLATE));
    assertThat(new FeatureDecoder(6272).decode(m).elementCount()).isEqualTo(6272);
    FeatureFrameException e = reject(new FeatureDecoder(6271), m);
    assertThat(e.reason()).isEqualTo(Reason.TOO_LARGE);
    assertThat(e).hasMessageContaining("6272 elements").hasMessageContaining("limit of 6271");
  }

  @Test
  void rejectsInvalidCodecFields() {
    Object[][] cases = {
        {"flags", 1, "flags = 0x1"}, {"dtype", 2, "dtype 2"}, {"bits", 3, "bits 3"},
        {"granularity", 2, "granularity 2"}, {"symmetric", 2, "symmetric 2"},
        {"entropy", 2, "zstd) needs version 2"}, {"entropy", 9, "entropy 9"},
        {"granularity", 3, "granularity 3 (three-range) needs version 2"}};
    for (Object[] c : cases) {
      Forge f = new Forge();
      switch ((String) c[0]) {
        case "flags" -> f.flags = (int) c[1];
        case "dtype" -> f.dtype = (int) c[1];
        case "bits" -> f.bits = (int) c[1];
        case "granularity" -> f.granularity = (int) c[1];
        case "symmetric" -> f.symmetric = (int) c[1];
        default -> f.entropy = (int) c[1];
      }
      FeatureFrameException e = reject(f.bytes());
      assertThat(e.reason()).as("%s", c[0]).isEqualTo(Reason.BAD_HEADER);
      assertThat(e).hasMessageContaining((String) c[2]);
    }
  }

  @Test
  void rejectsInvalidIdsAndParameters() {
    Forge f = new Forge();
    f.deviceId = "dev/1".getBytes();
    assertThat(reject(f.bytes())).hasMessageContaining("device id has byte 0x2f at index 3");
    f = new Forge();
    f.deviceId = new byte[0];
    assertThat(reject(f.bytes())).hasMessageContaining("device id length 0");
    f = new Forge();
    f.deviceId = new byte[200];
    Arrays.fill(f.deviceId, (byte) 'a');
    assertThat(reject(f.bytes())).hasMessageContaining("device id length 200");

    for (float s : new float[] {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY}) {
      f = new Forge();
      f.params = new float[] {s, 0f};
      FeatureFrameException e = reject(f.bytes());
      assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
      assertThat(e).hasMessageContaining("scale[0] = " + s);
    }
    f = new Forge();
    f.params = new float[] {0.5f, Float.NaN};
    assertThat(reject(f.bytes())).hasMessageContaining("zero point[0] = NaN");
    f = new Forge();
    f.symmetric = 1;
    assertThat(reject(f.bytes())).hasMessageContaining("symmetric frame; must be 0");
  }

  @Test
  void rejectsNonZeroPaddingBits() {
    Forge f = new Forge();
    f.bits = 6;
    f.dims = new long[] {1, 1, 5};
    f.payload = new byte[] {0, 0, 0, (byte) 0x40};
    FeatureFrameException e = reject(f.bytes());
    assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
    assertThat(e).hasMessageContaining("padding bits").hasMessageContaining("0x40").hasMessageContaining("low 6 bits");
    f.payload = new byte[] {0, 0, 0, (byte) 0x3f};
    assertThat(catchThrowableOfType(() -> BIG.decode(f.bytes()), FeatureFrameException.class)).isNull();
  }
}

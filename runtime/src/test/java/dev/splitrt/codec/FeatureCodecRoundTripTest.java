package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FeatureCodecRoundTripTest {
  private static final int[] BOTTLEFIT = {1, 8, 28, 28};
  private static final byte[] SHA = sha();

  private static byte[] sha() {
    byte[] s = new byte[32];
    for (int i = 0; i < 32; i++) s[i] = (byte) (0xA0 + i);
    return s;
  }

  private static FrameHeader header(long seq) {
    return new FrameHeader("jetson-nano-01", "fs-bottlefit-cls", SHA, seq, 1_764_000_000_000_000L + seq, 1280, 720);
  }

  /** Channels with different ranges and offsets, so per-channel and asymmetric matter. */
  private static float[] features(int[] shape, long seed) {
    int n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    int channels = shape.length > 1 ? shape[1] : 1;
    int inner = n / shape[0] / channels;
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      int c = (i / inner) % channels;
      x[i] = (float) (r.nextGaussian() * (0.1 + c) + c * 0.7 - 1.0);
    }
    return x;
  }

  static Stream<Arguments> allCodecs() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : new int[] {2, 4, 6, 8}) {
      for (Granularity g : new Granularity[] {Granularity.PER_TENSOR, Granularity.PER_CHANNEL}) {
        for (boolean sym : new boolean[] {false, true}) {
          for (Entropy e : Entropy.values()) out.add(Arguments.of(new CodecSpec(bits, g, sym, e)));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest
  @MethodSource("allCodecs")
  void roundTripsWithinHalfAScalePerElement(CodecSpec spec) throws Exception {
    for (int[] shape : new int[][] {BOTTLEFIT, {2, 3, 5}, {1, 7}}) {
      float[] x = features(shape, 7);
      FeatureEncoder enc = new FeatureEncoder(spec, shape);
      byte[] msg = enc.encode(header(9), FloatBuffer.wrap(x));
      FeatureFrame f = new FeatureDecoder(x.length).decode(msg);

      assertThat(f.header()).isEqualTo(header(9));
      assertThat(f.shape()).containsExactly(shape);
      assertThat(f.codec()).isEqualTo(spec);
      assertThat(f.elementCount()).isEqualTo(x.length);
      float[] y = new float[x.length];
      f.dequantizeInto(FloatBuffer.wrap(y));

      int channels = shape[1];
      int inner = x.length / shape[0] / channels;
      int qmax = (1 << (spec.bits() - 1)) - 1;
      for (int i = 0; i < x.length; i++) {
        int g = spec.granularity() == Granularity.PER_TENSOR ? 0 : (i / inner) % channels;
        float scale = f.scales()[g];
        float tol = scale / 2 + 4 * Math.ulp(Math.abs(x[i]) + Math.abs(f.zeroPoints()[g]) + scale * qmax * 2);
        assertThat(Math.abs(y[i] - x[i])).as("%s shape %s element %d", spec, Arrays.toString(shape), i)
            .isLessThanOrEqualTo(tol);
      }
      if (spec.symmetric()) assertThat(f.zeroPoints()).containsOnly(0f);
    }
  }

  @Test
  void perChannelScalesFollowEachChannelsRange() throws Exception {
    float[] x = features(BOTTLEFIT, 3);
    FeatureFrame f = new FeatureDecoder(x.length).decode(
        new FeatureEncoder(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.NONE), BOTTLEFIT)
            .encode(header(1), FloatBuffer.wrap(x)));
    assertThat(f.scales()).hasSize(8);
    for (int c = 0; c < 8; c++) {
      float lo = Float.MAX_VALUE;
      float hi = -Float.MAX_VALUE;
      for (int i = c * 784; i < (c + 1) * 784; i++) {
        lo = Math.min(lo, x[i]);
        hi = Math.max(hi, x[i]);
      }
      assertThat(f.zeroPoints()[c]).isEqualTo(lo);
      assertThat(f.scales()[c]).isEqualTo((hi - lo) / 15f);
    }
  }

  @Test
  void eightBitPerTensorMatchesTheReferenceQuantizerExactlyOnRealHeadOutputs() throws Exception {
    Path ref = Path.of(System.getProperty("splitrt.repo"), "models", "fs-bottlefit-cls", "reference");
    List<float[]> inputs = new ArrayList<>();
    for (int k = 0; k < 4; k++) inputs.add(readF32(ref.resolve("head_" + k + ".f32")));
    inputs.add(features(BOTTLEFIT, 11));
    float[] constant = new float[6272];
    Arrays.fill(constant, 0.25f);
    inputs.add(constant);

    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT);
    FeatureDecoder dec = new FeatureDecoder(6272);
    for (float[] x : inputs) {
      assertThat(x).hasSize(6272);
      float lo = Float.POSITIVE_INFINITY;
      float hi = Float.NEGATIVE_INFINITY;
      for (float v : x) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      float scale = hi == lo ? 1f : (hi - lo) / 255f;
      FeatureFrame f = dec.decode(enc.encode(header(2), FloatBuffer.wrap(x)));
      assertThat(f.scales()).containsExactly(scale);
      assertThat(f.zeroPoints()).containsExactly(lo);
      float[] y = new float[6272];
      f.dequantizeInto(FloatBuffer.wrap(y));
      for (int i = 0; i < x.length; i++) {
        float q = (float) Math.floor((x[i] - lo) / scale + 0.5f);
        q = Math.max(0f, Math.min(255f, q));
        assertThat(f.packed()[i] & 0xFF).as("code %d", i).isEqualTo((int) q);
        assertThat(Float.floatToRawIntBits(y[i])).as("value %d", i).isEqualTo(Float.floatToRawIntBits(q * scale + lo));
      }
    }
  }

  private static float[] readF32(Path p) throws IOException {
    FloatBuffer fb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] x = new float[fb.remaining()];
    fb.get(x);
    return x;
  }

  @Test
  void packsSixBitCodesLsbFirstAcrossBytes() throws Exception {
    // Symmetric 6 bit, scale 1 (max |x| = 31): stored code = x + 31.
    float[] x = {-30f, -29f, -28f, 31f};
    FeatureFrame f = new FeatureDecoder(4).decode(
        new FeatureEncoder(new CodecSpec(6, Granularity.PER_TENSOR, true, Entropy.NONE), new int[] {4})
            .encode(header(0), FloatBuffer.wrap(x)));
    assertThat(f.scales()).containsExactly(1f);
    // codes 1, 2, 3, 62 -> 000001 | 000010 | 000011 | 111110, LSB first
    assertThat(f.packed()).containsExactly(0x81, 0x30, 0xF8);
    float[] y = new float[4];
    f.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(x);
  }

  @Test
  void symmetricKeepsZeroExactAndConstantTensorsSurvive() throws Exception {
    float[] x = {0f, 0.3f, -0.9f, 0f, 0.45f, 0f};
    for (int bits : new int[] {2, 4, 6, 8}) {
      FeatureFrame f = new FeatureDecoder(6).decode(
          new FeatureEncoder(new CodecSpec(bits, Granularity.PER_TENSOR, true, Entropy.NONE), new int[] {1, 6})
              .encode(header(0), FloatBuffer.wrap(x)));
      float[] y = new float[6];
      f.dequantizeInto(FloatBuffer.wrap(y));
      assertThat(y[0]).isZero();
      assertThat(y[3]).isZero();
      assertThat(y[2]).isEqualTo(-0.9f, org.assertj.core.data.Offset.offset(1e-6f));
    }
    float[] zeros = new float[12];
    FeatureFrame z = new FeatureDecoder(12).decode(
        new FeatureEncoder(new CodecSpec(2, Granularity.PER_CHANNEL, true, Entropy.DEFLATE), new int[] {1, 3, 4})
            .encode(header(0), FloatBuffer.wrap(zeros)));
    assertThat(z.scales()).containsOnly(1f);
    float[] y = new float[12];
    Arrays.fill(y, 9f);
    z.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsOnly(0f);
  }

  @Test
  void reusedEncoderGivesTheSameBytesAsFreshEncoders() {
    for (CodecSpec spec : new CodecSpec[] {
        new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE),
        new CodecSpec(6, Granularity.PER_CHANNEL, true, Entropy.DEFLATE),
        new CodecSpec(2, Granularity.PER_CHANNEL, false, Entropy.DEFLATE)}) {
      FeatureEncoder reused = new FeatureEncoder(spec, BOTTLEFIT);
      for (int k = 0; k < 40; k++) {
        float[] x = features(BOTTLEFIT, 100 + k);
        if (k % 7 == 3) Arrays.fill(x, 1.5f);
        byte[] a = reused.encode(header(k), FloatBuffer.wrap(x));
        byte[] b = new FeatureEncoder(spec, BOTTLEFIT).encode(header(k), FloatBuffer.wrap(x));
        assertThat(a).as("%s frame %d", spec, k).isEqualTo(b);
      }
    }
  }

  @Test
  void readsValuesAbsolutelyFromDirectBuffers() throws Exception {
    float[] x = features(BOTTLEFIT, 5);
    FloatBuffer direct = ByteBuffer.allocateDirect(4 * x.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
    direct.put(x);
    direct.position(100);
    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(4, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT);
    byte[] fromDirect = enc.encode(header(3), direct);
    assertThat(direct.position()).isEqualTo(100);
    assertThat(fromDirect).isEqualTo(enc.encode(header(3), FloatBuffer.wrap(x)));

    FloatBuffer out = ByteBuffer.allocateDirect(4 * x.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
    out.position(17);
    new FeatureDecoder(x.length).decode(fromDirect).dequantizeInto(out);
    assertThat(out.position()).isEqualTo(17);
  }

  @Test
  void encodesWithoutAllocatingMoreThanTheMessage() {
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    assertThat(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled())
        .as("this JVM measures per-thread allocation").isTrue();
    float[] x = features(BOTTLEFIT, 8);
    FloatBuffer values = FloatBuffer.wrap(x);
    FrameHeader h = header(5);
    for (CodecSpec spec : new CodecSpec[] {
        new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE),
        new CodecSpec(4, Granularity.PER_CHANNEL, true, Entropy.DEFLATE)}) {
      FeatureEncoder enc = new FeatureEncoder(spec, BOTTLEFIT);
      int size = 0;
      for (int k = 0; k < 200; k++) size = enc.encode(h, values).length;
      int frames = 200;
      long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
      for (int k = 0; k < frames; k++) enc.encode(h, values);
      long allocated = mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
      long messages = (long) frames * (size + 16);
      assertThat(allocated).as("%s: %d frames of %d bytes", spec, frames, size).isLessThan(messages + 4096);
    }
  }

  @Test
  void rejectsNonFiniteValuesNamingTheFrameAndStaysUsable() throws Exception {
    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT);
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      float[] x = features(BOTTLEFIT, 1);
      x[1234] = bad;
      assertThatThrownBy(() -> enc.encode(header(77), FloatBuffer.wrap(x)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("device=jetson-nano-01").hasMessageContaining("model=fs-bottlefit-cls")
          .hasMessageContaining("sequence=77").hasMessageContaining("element 1234")
          .hasMessageContaining(Float.toString(bad));
    }
    float[] ok = features(BOTTLEFIT, 1);
    byte[] msg = enc.encode(header(78), FloatBuffer.wrap(ok));
    FeatureEncoder fresh = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT);
    assertThat(msg).isEqualTo(fresh.encode(header(78), FloatBuffer.wrap(ok)));
  }

  @Test
  void rejectsRangesTooWideForAFloatScale() {
    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE),
        new int[] {2});
    assertThatThrownBy(() -> enc.encode(header(1), FloatBuffer.wrap(new float[] {-3e38f, 3e38f})))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too wide");
  }

  @Test
  void rejectsBadShapesAndShortBuffers() {
    CodecSpec pt = new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE);
    assertThatThrownBy(() -> new FeatureEncoder(pt, new int[0])).hasMessageContaining("rank 0");
    assertThatThrownBy(() -> new FeatureEncoder(pt, new int[9])).hasMessageContaining("rank 9");
    assertThatThrownBy(() -> new FeatureEncoder(pt, new int[] {1, 0, 3})).hasMessageContaining("dim[1] = 0");
    assertThatThrownBy(() -> new FeatureEncoder(pt, new int[] {65535, 65535})).hasMessageContaining("more than");
    assertThatThrownBy(() -> new FeatureEncoder(new CodecSpec(8, Granularity.PER_CHANNEL, false, Entropy.NONE),
        new int[] {5})).hasMessageContaining("per-channel");
    FeatureEncoder enc = new FeatureEncoder(pt, BOTTLEFIT);
    assertThatThrownBy(() -> enc.encode(header(1), FloatBuffer.allocate(6271)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit 6271").hasMessageContaining("6272");
  }

  @Test
  void rejectsHeadersThatCannotTravel() {
    assertThatThrownBy(() -> new FrameHeader("cam/1", "m", SHA, 0, 0, 0, 0)).hasMessageContaining("'/'");
    assertThatThrownBy(() -> new FrameHeader("", "m", SHA, 0, 0, 0, 0)).hasMessageContaining("1..128");
    assertThatThrownBy(() -> new FrameHeader("c", "x".repeat(129), SHA, 0, 0, 0, 0)).hasMessageContaining("129");
    assertThatThrownBy(() -> new FrameHeader("c", "m", new byte[31], 0, 0, 0, 0)).hasMessageContaining("31 bytes");
  }

  @Test
  void rejectsSourceSizesThatCannotTravel() {
    assertThatThrownBy(() -> new FrameHeader("c", "m", SHA, 0, 0, 65536, 480))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sourceWidth 65536")
        .hasMessageContaining("0..65535");
    assertThatThrownBy(() -> new FrameHeader("c", "m", SHA, 0, 0, 640, -1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sourceHeight -1");
    assertThatThrownBy(() -> new FrameHeader("c", "m", SHA, 0, 0, 0, 480))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sourceWidth is 0 but sourceHeight is 480");
    assertThatThrownBy(() -> new FrameHeader("c", "m", SHA, 0, 0, 640, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sourceHeight is 0 but sourceWidth is 640");
  }

  @Test
  void roundTripsTheSourceSize() throws Exception {
    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT);
    FeatureDecoder dec = new FeatureDecoder(6272);
    float[] x = features(BOTTLEFIT, 4);
    for (int[] size : new int[][] {{1920, 1080}, {0, 0}, {65535, 1}, {1, 65535}}) {
      FrameHeader h = new FrameHeader("jetson-nano-01", "fs-bottlefit-cls", SHA, 6, 7, size[0], size[1]);
      byte[] msg = enc.encode(h, FloatBuffer.wrap(x));
      int at = 8 + 14 + 16 + 48;
      assertThat(Wire.u16(msg, at)).as("source width on the wire at offset %d", at).isEqualTo(size[0]);
      assertThat(Wire.u16(msg, at + 2)).as("source height on the wire").isEqualTo(size[1]);
      FrameHeader back = dec.decode(msg).header();
      assertThat(back.sourceWidth()).isEqualTo(size[0]);
      assertThat(back.sourceHeight()).isEqualTo(size[1]);
      assertThat(back).isEqualTo(h).hasSameHashCodeAs(h);
      assertThat(back.toString()).contains("sourceWidth=" + size[0] + ", sourceHeight=" + size[1]);
    }
    FrameHeader a = header(1);
    FrameHeader b = new FrameHeader(a.deviceId(), a.modelId(), SHA, 1, a.captureEpochMicros(), 1280, 721);
    assertThat(a).isNotEqualTo(b);
  }

  @Test
  void bottlefitFrameSizeIsHeaderPlusPayloadPlusCrc() {
    byte[] msg = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), BOTTLEFIT)
        .encode(header(0), FloatBuffer.wrap(features(BOTTLEFIT, 0)));
    assertThat(msg).hasSize(128 + 6272 + 4);
  }
}

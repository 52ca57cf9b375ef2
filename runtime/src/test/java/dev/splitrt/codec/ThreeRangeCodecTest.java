package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The outlier-aware three-range codec (FeatureFrame v2, granularities 2 and 3) end to end. */
class ThreeRangeCodecTest {
  private static final int[] BOTTLEFIT = {1, 8, 28, 28};
  private static final FrameHeader HEADER =
      new FrameHeader("jetson-nano-01", "fs-bottlefit-cls", new byte[32], 5, 6, 224, 224);

  /** Mostly a narrow Gaussian per channel, with rare large positive outliers (ReLU-like tails). */
  static float[] outlierHeavy(int[] shape, long seed) {
    int n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    int channels = shape.length > 1 ? shape[1] : 1;
    int inner = n / shape[0] / channels;
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      int c = (i / inner) % channels;
      x[i] = (float) (r.nextGaussian() * 0.2 * (1 + c % 3) + 0.1 * c);
      if (r.nextInt(200) == 0) x[i] += (float) (8 + 4 * r.nextDouble());
      if (r.nextInt(400) == 0) x[i] -= (float) (5 + 2 * r.nextDouble());
    }
    return x;
  }

  static Stream<Arguments> threeRangeCodecs() {
    List<Arguments> out = new ArrayList<>();
    for (int bits : new int[] {2, 4, 6, 8}) {
      for (Granularity g : new Granularity[] {Granularity.THREE_RANGE, Granularity.THREE_RANGE_PER_CHANNEL}) {
        for (Entropy e : Entropy.values()) out.add(Arguments.of(new CodecSpec(bits, g, false, e)));
      }
    }
    return out.stream();
  }

  private static int[] codes(FeatureFrame f) {
    int n = f.elementCount();
    int bits = f.codec().bits();
    int[] q = new int[n];
    long acc = 0;
    int accBits = 0;
    int p = 0;
    for (int i = 0; i < n; i++) {
      while (accBits < bits) {
        acc |= (long) (f.packed()[p++] & 0xFF) << accBits;
        accBits += 8;
      }
      q[i] = (int) (acc & ((1 << bits) - 1));
      acc >>>= bits;
      accBits -= bits;
    }
    return q;
  }

  @ParameterizedTest
  @MethodSource("threeRangeCodecs")
  void roundTripsEveryElementWithinHalfTheStepOfItsRange(CodecSpec spec) throws Exception {
    for (int[] shape : new int[][] {BOTTLEFIT, {2, 3, 5}, {1, 7}, {41}}) {
      if (spec.granularity().perChannel() && shape.length < 2) continue;
      float[] x = outlierHeavy(shape, 3);
      byte[] msg = new FeatureEncoder(spec, shape).encode(HEADER, FloatBuffer.wrap(x));
      assertThat(msg[4]).as("version byte").isEqualTo((byte) 2);
      FeatureFrame f = new FeatureDecoder(x.length).decode(msg);
      assertThat(f.codec()).isEqualTo(spec);
      assertThat(f.header()).isEqualTo(HEADER);
      int groups = spec.granularity().perChannel() ? shape[1] : 1;
      assertThat(f.scales()).hasSize(3 * groups);
      assertThat(f.levels()).hasSize(3 * groups);
      float[] y = new float[x.length];
      f.dequantizeInto(FloatBuffer.wrap(y));
      int[] q = codes(f);
      int inner = x.length / shape[0] / (shape.length > 1 ? shape[1] : 1);
      for (int i = 0; i < x.length; i++) {
        int g = spec.granularity().perChannel() ? (i / inner) % shape[1] : 0;
        int first = 0;
        int r = 0;
        while (q[i] >= first + f.levels()[3 * g + r]) first += f.levels()[3 * g + r++];
        int k = 3 * g + r;
        assertThat(y[i]).isEqualTo((q[i] - first) * f.scales()[k] + f.zeroPoints()[k]);
        if (f.levels()[k] > 1) {
          // Mid-rise cells: L codes split [min, max] of the range into L cells of width scale.
          float tol = f.scales()[k] / 2 + 4 * Math.ulp(Math.abs(x[i]) + Math.abs(f.zeroPoints()[k]) + 2 * f.scales()[k] * f.levels()[k]);
          assertThat(Math.abs(y[i] - x[i])).as("%s shape %s element %d range %d", spec, Arrays.toString(shape), i, r)
              .isLessThanOrEqualTo(tol);
        }
      }
    }
  }

  @Test
  void rangesAreOrderedAndShareTheWholeCodeSpace() throws Exception {
    float[] x = outlierHeavy(BOTTLEFIT, 9);
    for (int bits : new int[] {2, 4, 8}) {
      FeatureFrame f = new FeatureDecoder(x.length).decode(new FeatureEncoder(
          new CodecSpec(bits, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.NONE), BOTTLEFIT)
          .encode(HEADER, FloatBuffer.wrap(x)));
      for (int g = 0; g < 8; g++) {
        int[] l = Arrays.copyOfRange(f.levels(), 3 * g, 3 * g + 3);
        assertThat(l[0] + l[1] + l[2]).isEqualTo(1 << bits);
        // 784 distinct values per channel: k-means leaves no cluster empty, so every range has codes.
        assertThat(Arrays.stream(l).min().getAsInt()).as("codes of the least served range").isGreaterThanOrEqualTo(1);
        // Ranges are disjoint intervals in value order: range r's highest code lies below range r+1's lowest.
        for (int r = 0; r < 2; r++) {
          int k = 3 * g + r;
          float top = (l[r] - 1) * f.scales()[k] + f.zeroPoints()[k];
          assertThat(top).as("channel %d range %d", g, r).isLessThan(f.zeroPoints()[k + 1]);
        }
      }
    }
  }

  private static double mse(CodecSpec spec, float[] x, int[] shape) throws Exception {
    FeatureFrame f = new FeatureDecoder(x.length).decode(new FeatureEncoder(spec, shape).encode(HEADER, FloatBuffer.wrap(x)));
    float[] y = new float[x.length];
    f.dequantizeInto(FloatBuffer.wrap(y));
    double s = 0;
    for (int i = 0; i < x.length; i++) s += (y[i] - x[i]) * (double) (y[i] - x[i]);
    return s / x.length;
  }

  @Test
  void beatsUniformQuantizationWhenOutliersStretchTheRange() throws Exception {
    float[] x = outlierHeavy(BOTTLEFIT, 21);
    for (int bits : new int[] {4, 6}) {
      double uniform = mse(new CodecSpec(bits, Granularity.PER_CHANNEL, false, Entropy.NONE), x, BOTTLEFIT);
      double three = mse(new CodecSpec(bits, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.NONE), x, BOTTLEFIT);
      double threeTensor = mse(new CodecSpec(bits, Granularity.THREE_RANGE, false, Entropy.NONE), x, BOTTLEFIT);
      double uniformTensor = mse(new CodecSpec(bits, Granularity.PER_TENSOR, false, Entropy.NONE), x, BOTTLEFIT);
      assertThat(three).as("%d bits: three-range per channel vs uniform per channel", bits).isLessThan(uniform / 3);
      assertThat(threeTensor).as("%d bits: three-range vs uniform per tensor", bits).isLessThan(uniformTensor / 3);
    }
  }

  @Test
  void constantTwoValueAndOutlierTensorsAreExactEvenAtTwoBits() throws Exception {
    float[][] cases = {
        {0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f},
        {0f, 3f, 0f, 3f, 3f, 0f},
        {-7f, 0f, 100f, 0f, 0f, -7f},
        {0f, 0f, 0f, 0f, 0f, 1e30f}};
    for (float[] x : cases) {
      for (int bits : new int[] {2, 8}) {
        FeatureFrame f = new FeatureDecoder(6).decode(new FeatureEncoder(
            new CodecSpec(bits, Granularity.THREE_RANGE, false, Entropy.ZSTD), new int[] {1, 6})
            .encode(HEADER, FloatBuffer.wrap(x)));
        float[] y = new float[6];
        f.dequantizeInto(FloatBuffer.wrap(y));
        assertThat(y).as("%s at %d bits", Arrays.toString(x), bits).containsExactly(x);
        for (float s : f.scales()) assertThat(s).isPositive().isFinite();
      }
    }
  }

  @Test
  void quickselectFindsTheKthSmallest() {
    Random r = new Random(4);
    for (int n : new int[] {1, 2, 3, 10, 101, 6272}) {
      float[] a = new float[n];
      for (int i = 0; i < n; i++) a[i] = r.nextInt(7) - 3 + (r.nextBoolean() ? 0.5f : 0f);
      float[] sorted = a.clone();
      Arrays.sort(sorted);
      for (int k : new int[] {0, n / 2, n - 1}) {
        assertThat(FeatureEncoder.select(a.clone(), n, k)).as("n=%d k=%d", n, k).isEqualTo(sorted[k]);
      }
    }
  }

  @Test
  void headerIsTenBytesPerRangeAndTheMessageMatchesTheFormula() {
    for (Granularity g : new Granularity[] {Granularity.THREE_RANGE, Granularity.THREE_RANGE_PER_CHANNEL}) {
      int p = g.perChannel() ? 24 : 3;
      byte[] msg = new FeatureEncoder(new CodecSpec(4, g, false, Entropy.NONE), BOTTLEFIT)
          .encode(HEADER, FloatBuffer.wrap(outlierHeavy(BOTTLEFIT, 1)));
      assertThat(msg).hasSize(74 + 14 + 16 + 16 + 10 * p + 3136 + 4);
    }
  }

  @Test
  void reusedEncoderGivesTheSameBytesAsFreshEncoders() {
    CodecSpec spec = new CodecSpec(4, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.ZSTD);
    FeatureEncoder reused = new FeatureEncoder(spec, BOTTLEFIT);
    for (int k = 0; k < 20; k++) {
      float[] x = outlierHeavy(BOTTLEFIT, 50 + k);
      if (k % 5 == 2) Arrays.fill(x, -0.5f);
      assertThat(reused.encode(HEADER, FloatBuffer.wrap(x)))
          .isEqualTo(new FeatureEncoder(spec, BOTTLEFIT).encode(HEADER, FloatBuffer.wrap(x)));
    }
  }

  @Test
  void rejectsNonFiniteInputAndStillEncodesRangesTooWideForOneUniformScale() throws Exception {
    FeatureEncoder enc = new FeatureEncoder(new CodecSpec(4, Granularity.THREE_RANGE, false, Entropy.NONE), new int[] {3});
    assertThatThrownBy(() -> enc.encode(HEADER, FloatBuffer.wrap(new float[] {0f, Float.NaN, 1f})))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element 1");
    // Uniform codecs refuse this range (see FeatureCodecRoundTripTest); three clusters of one value each do not.
    float[] wide = {-3e38f, 0f, 3e38f};
    float[] y = new float[3];
    new FeatureDecoder(3).decode(enc.encode(HEADER, FloatBuffer.wrap(wide))).dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(wide);
  }

  @Test
  void uniformCodecsStillWriteVersionOneFramesAndOnlyZstdOrThreeRangeNeedTwo() {
    float[] x = outlierHeavy(BOTTLEFIT, 2);
    for (Granularity g : Granularity.values()) {
      for (Entropy e : Entropy.values()) {
        byte[] m = new FeatureEncoder(new CodecSpec(6, g, false, e), BOTTLEFIT).encode(HEADER, FloatBuffer.wrap(x));
        int expect = g.ranges() == 3 || e == Entropy.ZSTD ? 2 : 1;
        assertThat(m[4]).as("%s %s", g, e).isEqualTo((byte) expect);
      }
    }
  }
}

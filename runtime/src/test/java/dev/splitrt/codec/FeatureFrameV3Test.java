package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.splitrt.codec.FeatureFrameException.Reason;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Version 3 (feature-frame-v3.md): the boot epoch, written exactly when a header has one. */
class FeatureFrameV3Test {
  private static final int[] SHAPE = {1, 8, 28, 28};
  private static final byte[] SHA = new byte[32];

  private static float[] values() {
    float[] x = new float[6272];
    Random r = new Random(3);
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    return x;
  }

  private static FrameHeader header(long epoch) {
    return new FrameHeader("cam-7", "fs-bottlefit-cls", SHA, 41, 1_764_000_000_000_000L, 1280, 720, epoch);
  }

  @Test
  void everyCodecRoundTripsWithAnEpochAsVersionThree() throws Exception {
    float[] x = values();
    for (Granularity g : Granularity.values()) {
      for (Entropy e : Entropy.values()) {
        CodecSpec spec = new CodecSpec(8, g, false, e);
        for (long epoch : new long[] {1, 5, 0xFFFF_FFFFL}) {
          byte[] m = new FeatureEncoder(spec, SHAPE).encode(header(epoch), FloatBuffer.wrap(x));
          assertThat(m[4]).as("version byte of %s epoch %d", spec, epoch).isEqualTo((byte) 3);
          FeatureFrame f = new FeatureDecoder(6272).decode(m);
          assertThat(f.header()).isEqualTo(header(epoch));
          assertThat(f.header().epoch()).isEqualTo(epoch);
          assertThat(f.codec()).isEqualTo(spec);
          byte[] without = new FeatureEncoder(spec, SHAPE).encode(header(0), FloatBuffer.wrap(x));
          assertThat(without[4]).as("no epoch: lowest version").isEqualTo((byte) Wire.versionFor(spec));
          assertThat(m.length).isEqualTo(without.length + 4);
          assertThat(Arrays.copyOfRange(f.packed(), 0, 16))
              .isEqualTo(Arrays.copyOfRange(new FeatureDecoder(6272).decode(without).packed(), 0, 16));
        }
      }
    }
  }

  @Test
  void aVersionThreeFrameWithEpochZeroIsRefused() {
    byte[] m = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), SHAPE).encode(header(9), FloatBuffer.wrap(values()));
    int epochOff = 8 + 5 + 16 + 32 + 8;
    assertThat(Wire.u32(m, epochOff)).isEqualTo(9);
    Wire.putU32(m, epochOff, 0);
    FeatureFrameException e = catchThrowableOfType(() -> new FeatureDecoder(6272).decode(m),
        FeatureFrameException.class);
    assertThat(e.reason()).isEqualTo(Reason.BAD_HEADER);
    assertThat(e).hasMessageContaining("epoch 0 in a version-3 frame");
  }

  @Test
  void everyTruncationOfAVersionThreeFrameIsRefused() {
    byte[] m = new FeatureEncoder(new CodecSpec(8, Granularity.PER_CHANNEL, false, Entropy.NONE), SHAPE)
        .encode(header(2), FloatBuffer.wrap(values()));
    FeatureDecoder d = new FeatureDecoder(6272);
    for (int len = 0; len < m.length; len++) {
      byte[] cut = Arrays.copyOf(m, len);
      FeatureFrameException e = catchThrowableOfType(() -> d.decode(cut), FeatureFrameException.class);
      assertThat(e).as("prefix of %d bytes", len).isNotNull();
      assertThat(e.reason()).as("prefix of %d bytes", len).isIn(Reason.TRUNCATED, Reason.BAD_MAGIC);
    }
  }

  @Test
  void epochOutsideU32IsABadHeader() {
    assertThatThrownBy(() -> header(-1)).hasMessageContaining("0..4294967295");
    assertThatThrownBy(() -> header(1L << 32)).hasMessageContaining("0..4294967295");
  }
}

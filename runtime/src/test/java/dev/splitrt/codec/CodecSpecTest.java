package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CodecSpecTest {

  @Test
  void mapsManifestCodecStrings() {
    assertThat(CodecSpec.of(new CodecConfig(8, "per_tensor", false, "none")))
        .isEqualTo(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE));
    assertThat(CodecSpec.of(new CodecConfig(2, "per_channel", true, "deflate")))
        .isEqualTo(new CodecSpec(2, Granularity.PER_CHANNEL, true, Entropy.DEFLATE));
  }

  @Test
  void rejectsBitWidthsOutsideTheAllowedSet() {
    for (int bits : new int[] {0, 1, 3, 5, 7, 9, 16}) {
      assertThatThrownBy(() -> new CodecSpec(bits, Granularity.PER_TENSOR, false, Entropy.NONE))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("bits = " + bits).hasMessageContaining("2, 4, 6, 8");
    }
  }

  @Test
  void rejectsUnknownManifestStringsNamingTheFieldAndAllowedValues() {
    assertThatThrownBy(() -> CodecSpec.of(new CodecConfig(8, "per_row", false, "none")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("granularity = 'per_row'").hasMessageContaining("per_tensor, per_channel");
    assertThatThrownBy(() -> CodecSpec.of(new CodecConfig(8, "per_tensor", false, "lz4")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("entropy = 'lz4'").hasMessageContaining("none, deflate, zstd");
    assertThatThrownBy(() -> CodecSpec.of(new CodecConfig(8, null, false, "none")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("granularity = 'null'");
  }

  @Test
  void mapsTheVersionTwoCodecStrings() {
    assertThat(CodecSpec.of(new CodecConfig(4, "three_range", false, "zstd")))
        .isEqualTo(new CodecSpec(4, Granularity.THREE_RANGE, false, Entropy.ZSTD));
    assertThat(CodecSpec.of(new CodecConfig(6, "three_range_per_channel", false, "none")))
        .isEqualTo(new CodecSpec(6, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.NONE));
    assertThat(CodecSpec.of(new CodecConfig(8, "per_channel", true, "zstd")).entropy()).isEqualTo(Entropy.ZSTD);
  }

  @Test
  void refusesSymmetricThreeRangeNamingTheFix() {
    for (Granularity g : new Granularity[] {Granularity.THREE_RANGE, Granularity.THREE_RANGE_PER_CHANNEL}) {
      assertThatThrownBy(() -> new CodecSpec(4, g, true, Entropy.NONE))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("symmetric: false");
    }
  }

  @Test
  void labelsAndManifestFormsReadBackToTheSameSpec() {
    int specs = 0;
    for (int bits : new int[] {2, 4, 6, 8}) {
      for (Granularity g : Granularity.values()) {
        for (boolean sym : new boolean[] {false, true}) {
          if (sym && g.ranges() == 3) continue;
          for (Entropy e : Entropy.values()) {
            CodecSpec s = new CodecSpec(bits, g, sym, e);
            assertThat(CodecSpec.parse(s.label())).as(s.label()).isEqualTo(s);
            assertThat(CodecSpec.of(s.toManifest())).isEqualTo(s);
            specs++;
          }
        }
      }
    }
    assertThat(specs).isEqualTo(4 * (2 * 2 + 2) * 3);
    assertThat(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.ZSTD).label()).isEqualTo("4b-per_channel-asym-zstd");
    assertThat(new CodecSpec(2, Granularity.THREE_RANGE, false, Entropy.NONE).label()).isEqualTo("2b-three_range-none");
  }

  @Test
  void rejectsMalformedLabelsNamingTheExpectedForm() {
    for (String bad : new String[] {"", "4-per_tensor-asym-none", "4b-per_tensor-none", "4b-three_range-asym-none",
        "4b-per_tensor-signed-none", "3b-per_tensor-asym-none", "4b-per_row-asym-none"}) {
      assertThatThrownBy(() -> CodecSpec.parse(bad)).as("'%s'", bad).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("codec");
    }
    assertThatThrownBy(() -> CodecSpec.parse("4b-per_tensor-none")).hasMessageContaining("4b-per_channel-asym-zstd");
  }

  @Test
  void rejectsMissingEnums() {
    assertThatThrownBy(() -> new CodecSpec(8, null, false, Entropy.NONE))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("granularity");
    assertThatThrownBy(() -> new CodecSpec(8, Granularity.PER_TENSOR, false, null))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("entropy");
  }
}

package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.model.ModelManifest;
import org.junit.jupiter.api.Test;

class CodecSpecTest {

  @Test
  void mapsManifestCodecStrings() {
    assertThat(CodecSpec.of(new ModelManifest.Codec(8, "per_tensor", false, "none")))
        .isEqualTo(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE));
    assertThat(CodecSpec.of(new ModelManifest.Codec(2, "per_channel", true, "deflate")))
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
    assertThatThrownBy(() -> CodecSpec.of(new ModelManifest.Codec(8, "per_row", false, "none")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("granularity = 'per_row'").hasMessageContaining("per_tensor, per_channel");
    assertThatThrownBy(() -> CodecSpec.of(new ModelManifest.Codec(8, "per_tensor", false, "zstd")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("entropy = 'zstd'").hasMessageContaining("none, deflate");
    assertThatThrownBy(() -> CodecSpec.of(new ModelManifest.Codec(8, null, false, "none")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("granularity = 'null'");
  }

  @Test
  void rejectsMissingEnums() {
    assertThatThrownBy(() -> new CodecSpec(8, null, false, Entropy.NONE))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("granularity");
    assertThatThrownBy(() -> new CodecSpec(8, Granularity.PER_TENSOR, false, null))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("entropy");
  }
}

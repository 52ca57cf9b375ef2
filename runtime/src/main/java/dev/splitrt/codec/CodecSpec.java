package dev.splitrt.codec;

import dev.splitrt.model.ModelManifest;
import java.util.Objects;

/**
 * How bottleneck features are quantized and coded on the wire, validated once so that encoders and
 * decoders never see an impossible combination.
 *
 * @param bits code width, one of 2, 4, 6, 8
 * @param granularity one scale for the tensor, or one per channel (axis 1)
 * @param symmetric {@code true}: zero maps to a code exactly, zero point 0; {@code false}: min/max
 * @param entropy lossless stage after bit packing
 */
public record CodecSpec(int bits, Granularity granularity, boolean symmetric, Entropy entropy) {

  public CodecSpec {
    if (bits != 2 && bits != 4 && bits != 6 && bits != 8) {
      throw new IllegalArgumentException("codec bits = " + bits + "; allowed values: 2, 4, 6, 8");
    }
    Objects.requireNonNull(granularity, "codec granularity is null; allowed values: PER_TENSOR, PER_CHANNEL");
    Objects.requireNonNull(entropy, "codec entropy is null; allowed values: NONE, DEFLATE");
  }

  /** The manifest's {@code bottleneck.codec}: granularity "per_tensor"/"per_channel", entropy "none"/"deflate". */
  public static CodecSpec of(ModelManifest.Codec c) {
    Objects.requireNonNull(c, "bottleneck.codec is missing; give bits, granularity, symmetric, entropy");
    Granularity g;
    if ("per_tensor".equals(c.granularity())) {
      g = Granularity.PER_TENSOR;
    } else if ("per_channel".equals(c.granularity())) {
      g = Granularity.PER_CHANNEL;
    } else {
      throw new IllegalArgumentException("codec granularity = '" + c.granularity()
          + "'; allowed values: per_tensor, per_channel");
    }
    Entropy e;
    if ("none".equals(c.entropy())) {
      e = Entropy.NONE;
    } else if ("deflate".equals(c.entropy())) {
      e = Entropy.DEFLATE;
    } else {
      throw new IllegalArgumentException("codec entropy = '" + c.entropy() + "'; allowed values: none, deflate");
    }
    return new CodecSpec(c.bits(), g, c.symmetric(), e);
  }
}

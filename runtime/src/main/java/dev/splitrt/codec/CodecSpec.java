package dev.splitrt.codec;

import java.util.Locale;
import java.util.Objects;

/**
 * How bottleneck features are quantized and coded on the wire, validated once so that encoders and
 * decoders never see an impossible combination.
 *
 * @param bits code width, one of 2, 4, 6, 8
 * @param granularity one quantizer for the tensor or one per channel (axis 1), uniform or three-range
 * @param symmetric {@code true}: zero maps to a code exactly, zero point 0; {@code false}: min/max.
 *     Three-range granularities are asymmetric by construction and refuse {@code true}
 * @param entropy lossless stage after bit packing
 */
public record CodecSpec(int bits, Granularity granularity, boolean symmetric, Entropy entropy) {

  public CodecSpec {
    if (bits != 2 && bits != 4 && bits != 6 && bits != 8) {
      throw new IllegalArgumentException("codec bits = " + bits + "; allowed values: 2, 4, 6, 8");
    }
    Objects.requireNonNull(granularity,
        "codec granularity is null; allowed values: PER_TENSOR, PER_CHANNEL, THREE_RANGE, THREE_RANGE_PER_CHANNEL");
    Objects.requireNonNull(entropy, "codec entropy is null; allowed values: NONE, DEFLATE, ZSTD");
    if (symmetric && granularity.ranges() == 3) {
      throw new IllegalArgumentException("codec granularity " + granularity.name().toLowerCase(Locale.ROOT)
          + " with symmetric = true; three-range codecs give each range its own zero point, set symmetric: false");
    }
  }

  /**
   * The manifest's {@code bottleneck.codec} (or a profile's / config's {@code pipeline.codec}):
   * granularity "per_tensor" / "per_channel" / "three_range" / "three_range_per_channel", entropy
   * "none" / "deflate" / "zstd".
   */
  public static CodecSpec of(CodecConfig c) {
    Objects.requireNonNull(c, "bottleneck.codec is missing; give bits, granularity, symmetric, entropy");
    if ("rans".equals(c.entropy()) || "learned".equals(c.granularity())) {
      throw new IllegalArgumentException("codec {granularity: " + c.granularity() + ", entropy: " + c.entropy()
          + "} is a learned entropy bottleneck (FeatureFrame v4, LearnedFeatureEncoder/LearnedFeatureDecoder with the "
          + "model's entropy tables), not a fixed-width quantizer; the edge and tail daemons do not run it yet: "
          + "measure it with 'splitrt eval --learned', or pick a fixed-width codec such as 4b-three_range_per_channel-zstd");
    }
    Granularity g = switch (String.valueOf(c.granularity())) {
      case "per_tensor" -> Granularity.PER_TENSOR;
      case "per_channel" -> Granularity.PER_CHANNEL;
      case "three_range" -> Granularity.THREE_RANGE;
      case "three_range_per_channel" -> Granularity.THREE_RANGE_PER_CHANNEL;
      default -> throw new IllegalArgumentException("codec granularity = '" + c.granularity()
          + "'; allowed values: per_tensor, per_channel, three_range, three_range_per_channel");
    };
    Entropy e = switch (String.valueOf(c.entropy())) {
      case "none" -> Entropy.NONE;
      case "deflate" -> Entropy.DEFLATE;
      case "zstd" -> Entropy.ZSTD;
      default -> throw new IllegalArgumentException("codec entropy = '" + c.entropy()
          + "'; allowed values: none, deflate, zstd");
    };
    return new CodecSpec(c.bits(), g, c.symmetric(), e);
  }

  /** The manifest form of this spec, as {@link #of} reads it back. */
  public CodecConfig toManifest() {
    return new CodecConfig(bits, granularity.name().toLowerCase(Locale.ROOT), symmetric,
        entropy.name().toLowerCase(Locale.ROOT));
  }

  /**
   * A short stable name for tables and file names, e.g. {@code 4b-per_channel-asym-zstd} or
   * {@code 4b-three_range-deflate}; {@link #parse} reads it back.
   */
  public String label() {
    String g = granularity.name().toLowerCase(Locale.ROOT);
    String e = entropy.name().toLowerCase(Locale.ROOT);
    return bits + "b-" + g + (granularity.ranges() == 3 ? "" : symmetric ? "-sym" : "-asym") + "-" + e;
  }

  /** Reads {@link #label()}; IllegalArgumentException naming the label and the expected form. */
  public static CodecSpec parse(String label) {
    String[] p = label == null ? new String[0] : label.trim().split("-");
    String form = "expected BITSb-GRANULARITY-(sym|asym)-ENTROPY such as 4b-per_channel-asym-zstd, "
        + "or BITSb-three_range[_per_channel]-ENTROPY such as 4b-three_range-none";
    if (p.length < 3 || p.length > 4 || !p[0].matches("[0-9]+b")) {
      throw new IllegalArgumentException("codec '" + label + "': " + form);
    }
    int bits = Integer.parseInt(p[0].substring(0, p[0].length() - 1));
    boolean three = p[1].startsWith("three_range");
    if (three != (p.length == 3)) throw new IllegalArgumentException("codec '" + label + "': " + form);
    boolean sym = false;
    if (!three) {
      if (!p[2].equals("sym") && !p[2].equals("asym")) {
        throw new IllegalArgumentException("codec '" + label + "': '" + p[2] + "' is neither sym nor asym; " + form);
      }
      sym = p[2].equals("sym");
    }
    return of(new CodecConfig(bits, p[1], sym, p[p.length - 1]));
  }
}

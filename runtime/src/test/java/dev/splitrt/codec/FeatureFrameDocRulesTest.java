package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The decoder rules (§7) and size tables (§2) of runtime/docs/feature-frame-v*.md, checked against the codec. */
class FeatureFrameDocRulesTest {
  private static String doc(String file) throws Exception {
    return Files.readString(Path.of(System.getProperty("splitrt.repo"), "runtime", "docs", file));
  }

  private static byte[] frame(CodecSpec codec, int[] shape) {
    byte[] sha = new byte[32];
    int n = 1;
    for (int d : shape) n *= d;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (i % 17) * 0.25f - 1f;
    return new FeatureEncoder(codec, shape).encode(new FrameHeader("jetson-nano-01", "m", sha, 1, 1, 0, 0), FloatBuffer.wrap(x));
  }

  @Test
  void theVersionsStep1AcceptsAreTheOnesTheDecoderReads() throws Exception {
    byte[] good = frame(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), new int[] {1, 2, 3});
    TreeSet<Integer> read = new TreeSet<>();
    for (int v = 0; v < 256; v++) {
      byte[] m = good.clone();
      m[4] = (byte) v;
      try {
        new FeatureDecoder(6).decode(m);
        read.add(v);
      } catch (FeatureFrameException e) {
        if (e.reason() != FeatureFrameException.Reason.UNSUPPORTED_VERSION) read.add(v);   // got past step 1
      }
    }
    // The Java decoder is a version-3 reader: v2's step 1 (1 or 2) plus version 3 (feature-frame-v3.md).
    assertThat(read).containsExactly(1, 2, 3);
    assertThat(doc("feature-frame-v2.md")).contains("Version byte must be 1 or 2 [UNSUPPORTED_VERSION]");
    assertThat(doc("feature-frame-v3.md")).contains("step 1 accepts versions 1, 2 and 3 [otherwise UNSUPPORTED_VERSION]");
    assertThat(doc("feature-frame-v1.md")).contains("Version byte must be 1 [UNSUPPORTED_VERSION] (a version-2 reader, such as the Java decoder, also");
  }

  @Test
  void perChannelAtRankOneIsRefusedBeforeTheParameterCountIsRead() throws Exception {
    // Check (a): a rank-1 per-channel header is refused by its rank, whatever P says.
    byte[] m = frame(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), new int[] {6});
    int granularityAt = (8 + 14 + 1) + 54;          // A + 54, A = 8 + D + M (§2 layout)
    assertThat(m[granularityAt]).isEqualTo((byte) 0);
    m[granularityAt] = 1;
    assertThatThrownBy(() -> new FeatureDecoder(6).decode(m)).isInstanceOf(FeatureFrameException.class)
        .hasMessageContaining("rank 1").extracting(e -> ((FeatureFrameException) e).reason()).isEqualTo(FeatureFrameException.Reason.BAD_HEADER);
    // Check (b): G = dims[1] per channel, times 3 for three-range.
    assertThat(Shapes.paramCount(new int[] {1, 8, 40, 40}, Granularity.PER_CHANNEL)).isEqualTo(8);
    assertThat(Shapes.paramCount(new int[] {1, 8, 40, 40}, Granularity.values()[3])).isEqualTo(24);
    assertThat(Shapes.paramCount(new int[] {1, 8, 40, 40}, Granularity.values()[2])).isEqualTo(3);
    assertThat(doc("feature-frame-v2.md")).contains("`G = dims[1]` per channel").contains("Two checks follow");
    assertThat(doc("feature-frame-v1.md")).contains("Two checks follow");
  }

  private static final Pattern ROW = Pattern.compile("\\| `([a-z0-9-]+)` \\| \\[([0-9, ]+)\\] \\| (\\d+) \\| (\\d+) \\| (\\d+) \\| (\\d+) \\| (\\d+) \\|");

  @Test
  void theSizeTablesAreWhatTheEncoderWrites() throws Exception {
    for (String file : List.of("feature-frame-v1.md", "feature-frame-v2.md")) {
      Matcher r = ROW.matcher(doc(file));
      List<String> rows = new ArrayList<>();
      while (r.find()) {
        String[] parts = r.group(2).split(", ");
        int[] shape = new int[parts.length];
        for (int i = 0; i < parts.length; i++) shape[i] = Integer.parseInt(parts[i]);
        String id = r.group(1);
        byte[] sha = new byte[32];
        int n = 1;
        for (int d : shape) n *= d;
        byte[] m = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), shape)
            .encode(new FrameHeader("jetson-nano-01", id, sha, 1, 1, 0, 0), FloatBuffer.wrap(new float[n]));
        int payload = n;                                    // 8 bits, entropy none
        int header = m.length - payload - 4;
        assertThat(List.of(Integer.parseInt(r.group(3)), Integer.parseInt(r.group(4)), Integer.parseInt(r.group(5)),
            Integer.parseInt(r.group(6)), Integer.parseInt(r.group(7))))
            .as("%s row %s", file, id).containsExactly(14, id.length(), header, payload, m.length);
        rows.add(id);
      }
      assertThat(rows).as(file).containsExactly("fs-bottlefit-cls", "fs-leyolo-nano-det");
      assertThat(doc(file)).doesNotContain("Sizes for the zoo's default codecs");
    }
  }
}

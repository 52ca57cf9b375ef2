package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Keeps runtime/docs/feature-frame-v4.md honest: its worked example is what the learned codec writes and reads. */
class FeatureFrameV4DocTest {
  private static final float[] VALUES = {0.3f, -1f, 1.4f, -0.5f, 0.7f, 9f};

  private static String doc() throws Exception {
    return Files.readString(Path.of(System.getProperty("splitrt.repo"), "runtime", "docs", "feature-frame-v4.md"));
  }

  private static byte[] example() throws Exception {
    String doc = doc();
    int begin = doc.indexOf("<!-- hex-example-v4:begin -->");
    int end = doc.indexOf("<!-- hex-example-v4:end -->");
    assertThat(begin).as("hex example markers in the doc").isGreaterThanOrEqualTo(0);
    assertThat(end).isGreaterThan(begin);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String line : doc.substring(begin, end).split("\n")) {
      if (!line.matches("[0-9a-f]{4}  .*")) continue;
      assertThat(Integer.parseInt(line.substring(0, 4), 16)).as("offset column of '%s'", line).isEqualTo(out.size());
      out.writeBytes(HexFormat.of().parseHex(line.substring(6).replace(" ", "")));
    }
    return out.toByteArray();
  }

  private static FrameHeader header() {
    byte[] sha = new byte[32];
    for (int i = 0; i < 32; i++) sha[i] = (byte) i;
    return new FrameHeader("cam-1", "demo", sha, 7, 1_700_000_000_000_000L, 640, 480, 2);
  }

  @Test
  void theDocumentedTablesAreTheTestTablesAndHaveTheDocumentedId() throws Exception {
    EntropyTables t = LearnedCodecTest.tables(LearnedCodecTest.DOC_TABLES);
    assertThat(doc()).contains(LearnedCodecTest.DOC_TABLES.trim());
    assertThat(String.format("0x%08x", t.tableId())).isEqualTo("0xd2abd611");
    assertThat(doc()).contains("0xD2ABD611");
  }

  @Test
  void encoderWritesTheDocumentedExampleByteForByte() throws Exception {
    EntropyTables t = LearnedCodecTest.tables(LearnedCodecTest.DOC_TABLES);
    byte[] m = new LearnedFeatureEncoder(t, new int[] {1, 2, 3}).encode(header(), FloatBuffer.wrap(VALUES));
    byte[] doc = example();
    assertThat(HexFormat.of().formatHex(m)).isEqualTo(HexFormat.of().formatHex(doc));
    assertThat(doc).hasSize(108);
  }

  @Test
  void decoderReadsTheDocumentedExample() throws Exception {
    EntropyTables t = LearnedCodecTest.tables(LearnedCodecTest.DOC_TABLES);
    LearnedFeatureFrame f = new LearnedFeatureDecoder(t, 6).decode(example());
    assertThat(f.header()).isEqualTo(header());
    assertThat(f.shape()).containsExactly(1, 2, 3);
    assertThat(f.symbols()).containsExactly(1, 0, 2, 0, 1, 1);
    float[] y = new float[6];
    f.dequantizeInto(t, FloatBuffer.wrap(y));
    assertThat(y).containsExactly(0.25f, -0.75f, 1.25f, -0.5f, 0.5f, 0.5f);
  }
}

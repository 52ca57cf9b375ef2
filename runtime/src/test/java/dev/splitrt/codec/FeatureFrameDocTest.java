package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Keeps runtime/docs/feature-frame-v1.md, -v2.md and -v3.md honest: their worked examples are what the codec writes and reads. */
class FeatureFrameDocTest {

  private static byte[] documentedExample() throws Exception {
    return example("feature-frame-v1.md", "hex-example");
  }

  private static byte[] example(String file, String marker) throws Exception {
    String doc = Files.readString(Path.of(System.getProperty("splitrt.repo"), "runtime", "docs", file));
    int begin = doc.indexOf("<!-- " + marker + ":begin -->");
    int end = doc.indexOf("<!-- " + marker + ":end -->");
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

  private static FrameHeader exampleHeader() {
    byte[] sha = new byte[32];
    for (int i = 0; i < 32; i++) sha[i] = (byte) i;
    return new FrameHeader("cam-1", "demo", sha, 7, 1_700_000_000_000_000L, 640, 480);
  }

  private static final float[] VALUES = {0f, 0.5f, 1.5f, -1f, 0f, 2f};

  @Test
  void encoderWritesTheDocumentedExampleByteForByte() throws Exception {
    byte[] doc = documentedExample();
    assertThat(doc).hasSize(118);
    byte[] m = new FeatureEncoder(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.NONE), new int[] {1, 2, 3})
        .encode(exampleHeader(), FloatBuffer.wrap(VALUES));
    assertThat(HexFormat.of().formatHex(m)).isEqualTo(HexFormat.of().formatHex(doc));
  }

  @Test
  void decoderReadsTheDocumentedExample() throws Exception {
    FeatureFrame f = new FeatureDecoder(6).decode(documentedExample());
    assertThat(f.header()).isEqualTo(exampleHeader());
    assertThat(f.codec()).isEqualTo(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.NONE));
    assertThat(f.shape()).containsExactly(1, 2, 3);
    assertThat(f.scales()).containsExactly(0.1f, 0.2f);
    assertThat(f.zeroPoints()).containsExactly(0f, -1f);
    assertThat(f.packed()).containsExactly(0x50, 0x0f, 0xf5);
    float[] y = new float[6];
    f.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(VALUES);
  }

  @Test
  void versionTwoDocRepeatsTheVersionOneExampleUnchanged() throws Exception {
    assertThat(example("feature-frame-v2.md", "hex-example-v1")).isEqualTo(documentedExample());
  }

  private static final float[] THREE_RANGE_VALUES = {-6f, 0f, 0.5f, 1f, 1.5f, 0.5f, 1f, 10f};
  private static final CodecSpec THREE_RANGE = new CodecSpec(2, Granularity.THREE_RANGE, false, Entropy.NONE);

  @Test
  void encoderWritesTheDocumentedThreeRangeExampleByteForByte() throws Exception {
    byte[] doc = example("feature-frame-v2.md", "hex-example-v2");
    assertThat(doc).hasSize(127);
    byte[] m = new FeatureEncoder(THREE_RANGE, new int[] {1, 8}).encode(exampleHeader(), FloatBuffer.wrap(THREE_RANGE_VALUES));
    assertThat(HexFormat.of().formatHex(m)).isEqualTo(HexFormat.of().formatHex(doc));
  }

  @Test
  void decoderReadsTheDocumentedThreeRangeExample() throws Exception {
    FeatureFrame f = new FeatureDecoder(8).decode(example("feature-frame-v2.md", "hex-example-v2"));
    assertThat(f.header()).isEqualTo(exampleHeader());
    assertThat(f.codec()).isEqualTo(THREE_RANGE);
    assertThat(f.shape()).containsExactly(1, 8);
    assertThat(f.scales()).containsExactly(1f, 0.75f, 1f);
    assertThat(f.zeroPoints()).containsExactly(-6f, 0.375f, 10f);
    assertThat(f.levels()).containsExactly(1, 2, 1);
    assertThat(f.packed()).containsExactly(0x94, 0xe6);
    float[] y = new float[8];
    f.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(-6f, 0.375f, 0.375f, 1.125f, 1.125f, 0.375f, 1.125f, 10f);
  }

  private static FrameHeader exampleHeaderWithEpoch() {
    FrameHeader h = exampleHeader();
    return new FrameHeader(h.deviceId(), h.modelId(), h.headSha256(), h.sequence(), h.captureEpochMicros(),
        h.sourceWidth(), h.sourceHeight(), 5);
  }

  @Test
  void encoderWritesTheDocumentedVersionThreeExampleByteForByte() throws Exception {
    byte[] doc = example("feature-frame-v3.md", "hex-example-v3");
    assertThat(doc).hasSize(122);
    byte[] m = new FeatureEncoder(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.NONE), new int[] {1, 2, 3})
        .encode(exampleHeaderWithEpoch(), FloatBuffer.wrap(VALUES));
    assertThat(HexFormat.of().formatHex(m)).isEqualTo(HexFormat.of().formatHex(doc));
  }

  @Test
  void decoderReadsTheDocumentedVersionThreeExample() throws Exception {
    FeatureFrame f = new FeatureDecoder(6).decode(example("feature-frame-v3.md", "hex-example-v3"));
    assertThat(f.header()).isEqualTo(exampleHeaderWithEpoch());
    assertThat(f.header().epoch()).isEqualTo(5);
    assertThat(f.packed()).containsExactly(0x50, 0x0f, 0xf5);
    float[] y = new float[6];
    f.dequantizeInto(FloatBuffer.wrap(y));
    assertThat(y).containsExactly(VALUES);
  }
}

package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Keeps runtime/docs/feature-chunk-v1.md honest: its worked example (the 118-byte frame of
 * feature-frame-v1.md §8 split into chunks of at most 96 bytes) is what {@link FeatureChunks#split}
 * writes, and the assembler rebuilds the frame from it.
 */
class FeatureChunkDocTest {
  static final int MAX_CHUNK = 96;

  private static String doc() throws Exception {
    return Files.readString(Path.of(System.getProperty("splitrt.repo"), "runtime", "docs", "feature-chunk-v1.md"));
  }

  /** The hex dump between the markers, offsets checked (the same layout as the frame docs' examples). */
  static byte[] example(String doc, String marker) {
    int begin = doc.indexOf("<!-- " + marker + ":begin -->");
    int end = doc.indexOf("<!-- " + marker + ":end -->");
    assertThat(begin).as("markers %s in the doc", marker).isGreaterThanOrEqualTo(0);
    assertThat(end).isGreaterThan(begin);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String line : doc.substring(begin, end).split("\n")) {
      if (!line.matches("[0-9a-f]{4}  .*")) continue;
      assertThat(Integer.parseInt(line.substring(0, 4), 16)).as("offset column of '%s'", line).isEqualTo(out.size());
      out.writeBytes(HexFormat.of().parseHex(line.substring(6).replace(" ", "")));
    }
    return out.toByteArray();
  }

  /** The v1 doc's example frame, made by the encoder (FeatureFrameDocTest checks it against that doc). */
  static byte[] exampleFrame() {
    byte[] sha = new byte[32];
    for (int i = 0; i < 32; i++) sha[i] = (byte) i;
    return new FeatureEncoder(new CodecSpec(4, Granularity.PER_CHANNEL, false, Entropy.NONE), new int[] {1, 2, 3})
        .encode(new FrameHeader("cam-1", "demo", sha, 7, 1_700_000_000_000_000L, 640, 480),
            FloatBuffer.wrap(new float[] {0f, 0.5f, 1.5f, -1f, 0f, 2f}));
  }

  static String dump(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < b.length; i += 16) {
      sb.append(String.format("%04x ", i));
      for (int j = i; j < Math.min(b.length, i + 16); j++) sb.append(String.format(" %02x", b[j]));
      sb.append('\n');
    }
    return sb.toString();
  }

  @Test
  void splitWritesTheDocumentedChunksByteForByte() throws Exception {
    List<byte[]> chunks = FeatureChunks.split(exampleFrame(), MAX_CHUNK);
    String doc = doc();
    assertThat(chunks).hasSize(2);
    for (int i = 0; i < chunks.size(); i++) {
      assertThat(dump(example(doc, "chunk-example-" + i))).as("chunk %d; split writes:%n%s", i, dump(chunks.get(i)))
          .isEqualTo(dump(chunks.get(i)));
    }
  }

  @Test
  void theAssemblerRebuildsTheFrameFromTheDocumentedChunksInEitherOrder() throws Exception {
    String doc = doc();
    byte[] c0 = example(doc, "chunk-example-0");
    byte[] c1 = example(doc, "chunk-example-1");
    FeatureChunks.Assembler a = new FeatureChunks.Assembler(1 << 20, 4, 1 << 20, 1_000_000_000L);
    assertThat(a.accept("t", c1, 0)).isEmpty();
    Optional<byte[]> frame = a.accept("t", c0, 0);
    assertThat(frame).hasValueSatisfying(f -> assertThat(f).isEqualTo(exampleFrame()));
    FeatureFrame decoded = new FeatureDecoder(6).decode(frame.orElseThrow());
    assertThat(decoded.header().sequence()).isEqualTo(7);
  }
}

package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Python reference encoder (models/recipes/entropy_model.py) and the Java coder agree bit for bit
 * on the committed learned models: Java decodes every Python payload of the eval subset
 * (reference/eval-payloads.bin) to Python's symbols (SHA-256 of the first 8, recorded by the recipe,
 * and a lossless re-encode of all of them), and Java's encoder, from the recorded head output,
 * writes exactly Python's payload.
 */
class LearnedCodecBitExactTest {
  private static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");

  static Stream<String> learnedModels() throws Exception {
    ModelRegistry zoo = new ModelRegistry(MODELS);
    List<String> ids = new ArrayList<>();
    for (String id : zoo.ids()) if (zoo.load(id).manifest().bottleneck().learned()) ids.add(id);
    assertThat(ids).as("learned models in the zoo").isNotEmpty();
    return ids.stream();
  }

  private static List<byte[]> payloads(Path file) throws Exception {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    int count = b.getInt();
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] p = new byte[b.getInt()];
      b.get(p);
      out.add(p);
    }
    assertThat(b.remaining()).as("bytes after the last payload of %s", file).isZero();
    return out;
  }

  private static byte[] payloadOf(byte[] message, int rank, FrameHeader h) {
    int off = LearnedFeatureDecoder.headerBytes(h.deviceId().length(), h.modelId().length(), rank);
    return Arrays.copyOfRange(message, off, message.length - 4);
  }

  @ParameterizedTest
  @MethodSource("learnedModels")
  void javaAndPythonCodeTheEvalSubsetIdentically(String id) throws Exception {
    LoadedModel model = new ModelRegistry(MODELS).load(id);
    EntropyTables t = model.entropyTables();
    int[] shape = model.manifest().head().output().dims();
    int n = model.manifest().head().output().elementCount();
    Path ref = model.dir().resolve("reference");
    JsonNode meta = new ObjectMapper().readTree(ref.resolve("rans.json").toFile());
    assertThat(meta.get("table_id").asLong()).isEqualTo(t.tableId() & 0xFFFFFFFFL);
    List<byte[]> py = payloads(ref.resolve(meta.get("payloads").asText()));
    assertThat(py).hasSize(meta.get("frames").asInt()).hasSizeGreaterThanOrEqualTo(300);
    LearnedFeatureEncoder enc = new LearnedFeatureEncoder(t, shape);
    LearnedFeatureDecoder dec = new LearnedFeatureDecoder(t, n);
    FrameHeader h = new FrameHeader("jetson-nano-01", id, model.headSha256(), 0, 0, 224, 224);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    for (int i = 0; i < py.size(); i++) {
      // Python's payload inside a Java-built frame: Java decodes it with its strict decoder...
      int[] sym = new int[n];
      RansCoder.decode(py.get(i), 0, py.get(i).length, n, LearnedFeatureFrame.inner(shape), t, sym);
      // ...to Python's symbols (as signed symbols, LE int32, hashed by the recipe) ...
      if (i < meta.get("symbols_sha256").size()) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        int inner = LearnedFeatureFrame.inner(shape);
        for (int k = 0; k < n; k++) b.putInt(sym[k] + t.minSymbol((k / inner) % shape[1]));
        assertThat(HexFormat.of().formatHex(sha.digest(b.array()))).as("%s frame %d symbols", id, i)
            .isEqualTo(meta.get("symbols_sha256").get(i).asText());
      }
      // ... and Java's encoder writes exactly Python's bytes for them, in a frame its decoder reads back
      byte[] msg = enc.frame(h, sym);
      assertThat(payloadOf(msg, shape.length, h)).as("%s frame %d payload", id, i).isEqualTo(py.get(i));
      assertThat(dec.decode(msg).symbols()).isEqualTo(sym);
    }
    // from the float latent: Java's quantizer + coder on the recorded head output of eval frame 0
    JsonNode vectors = new ObjectMapper().readTree(ref.resolve("vectors.json").toFile());
    byte[] raw = Files.readAllBytes(ref.resolve(vectors.get("items").get(0).get("head_output").asText()));
    float[] y = new float[n];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(y);
    assertThat(payloadOf(enc.encode(h, FloatBuffer.wrap(y)), shape.length, h)).as("%s frame 0 from the latent", id)
        .isEqualTo(py.get(0));
  }
}

package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.splitrt.model.LoadedModel;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The committed fuzz seeds are what {@link FuzzSeeds} says they are: the folders hold exactly its seeds
 * (none missing, none stale), every {@code real-*} frame decodes to exactly what its zoo model's reference
 * head output encodes to now with the frame's own codec and header, and every {@code hostile-<reason>-*} seed is refused with that
 * reason. Byte equality with a fresh encoding is not required (DEFLATE and zstd output may differ
 * between library builds); meaning is.
 */
class FuzzSeedsTest {
  private static final Path RESOURCES = FuzzSeeds.repo().resolve("runtime/src/test/resources");
  private static final List<LoadedModel> ZOO = FuzzSeeds.zoo();

  /**
   * The generated seeds of a folder ({@code real-*}, {@code hostile-*}); Jazzer's own findings
   * ({@code crash-*}, {@code timeout-*}) may sit beside them as regression inputs and are not ours to check.
   */
  private static TreeSet<String> names(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("real-") || n.startsWith("hostile-"))
          .collect(Collectors.toCollection(TreeSet::new));
    }
  }

  private static String reason(String name) {
    return name.substring("hostile-".length(), name.indexOf('-', "hostile-".length()));
  }

  @Test
  void committedFoldersHoldExactlyTheGeneratedSeeds() throws IOException {
    assertThat(names(RESOURCES.resolve(FuzzSeeds.DECODER_SEEDS)))
        .as("decoder seeds; regenerate with FuzzSeeds.main (see its comment)")
        .containsExactlyElementsOf(new TreeSet<>(FuzzSeeds.decoderSeeds(ZOO).keySet()));
    assertThat(names(RESOURCES.resolve(FuzzSeeds.CHUNK_SEEDS)))
        .as("chunk seeds; regenerate with FuzzSeeds.main (see its comment)")
        .containsExactlyElementsOf(new TreeSet<>(FuzzSeeds.chunkSeeds(ZOO).keySet()));
  }

  @Test
  void realFramesDecodeToTheirModelsReferenceHeadOutputs() throws Exception {
    int maxElements = FuzzSeeds.maxElements(ZOO);
    FeatureDecoder fixed = new FeatureDecoder(maxElements);
    EntropyTables tables = FuzzSeeds.model(ZOO, FuzzSeeds.LEARNED_MODEL).entropyTables();
    LearnedFeatureDecoder learned = new LearnedFeatureDecoder(tables, maxElements);
    Path dir = RESOURCES.resolve(FuzzSeeds.DECODER_SEEDS);
    int checked = 0;
    for (String name : names(dir)) {
      if (!name.startsWith("real-")) continue;
      byte[] m = Files.readAllBytes(dir.resolve(name));
      LoadedModel model = ZOO.stream().filter(z -> name.startsWith("real-" + z.manifest().id() + "-"))
          .max((x, y) -> x.manifest().id().length() - y.manifest().id().length()).orElseThrow();
      int[] dims = model.manifest().tail().input().dims();
      assertThat(m[4]).as(name + ": version byte").isEqualTo(Byte.parseByte(name.substring(name.lastIndexOf("-v") + 2)));
      int k;
      if (m[4] == 4) {
        LearnedFeatureFrame f = learned.decode(m);
        k = (int) (f.header().sequence() % 1000);
        LearnedFeatureFrame again = learned.decode(FuzzSeeds.encodeLearned(model, k, f.header().epoch()));
        assertThat(f.header()).as(name).isEqualTo(again.header());
        assertThat(f.shape()).as(name).containsExactly(dims);
        assertThat(f.symbols()).as(name + ": symbols of head_" + k + ".f32 encoded now").isEqualTo(again.symbols());
      } else {
        FeatureFrame f = fixed.decode(m);
        k = (int) (f.header().sequence() % 1000);
        FeatureFrame again = fixed.decode(FuzzSeeds.encode(model, k, f.codec(), f.header().epoch()));
        assertThat(f.header()).as(name).isEqualTo(again.header());
        assertThat(f.shape()).as(name).containsExactly(dims);
        float[] y = new float[f.elementCount()];
        float[] z = new float[again.elementCount()];
        f.dequantizeInto(FloatBuffer.wrap(y));
        again.dequantizeInto(FloatBuffer.wrap(z));
        assertThat(y).as(name + ": tensor of head_" + k + ".f32 encoded now with " + f.codec()).isEqualTo(z);
      }
      checked++;
    }
    assertThat(checked).as("real frames checked").isEqualTo(FuzzSeeds.realFrames(ZOO).size());
  }

  @Test
  void hostileFramesAreRefusedForTheReasonTheirNamesGive() throws Exception {
    int maxElements = FuzzSeeds.maxElements(ZOO);
    FeatureDecoder fixed = new FeatureDecoder(maxElements);
    LearnedFeatureDecoder learned = new LearnedFeatureDecoder(FuzzSeeds.model(ZOO, FuzzSeeds.LEARNED_MODEL).entropyTables(),
        maxElements);
    Path dir = RESOURCES.resolve(FuzzSeeds.DECODER_SEEDS);
    List<String> checked = new ArrayList<>();
    for (String name : names(dir)) {
      if (!name.startsWith("hostile-")) continue;
      byte[] m = Files.readAllBytes(dir.resolve(name));
      boolean v4 = m.length > 4 && m[4] == 4;
      FeatureFrameException e = catchThrowableOfType(() -> {
        if (v4) learned.decode(m);
        else fixed.decode(m);
      }, FeatureFrameException.class);
      assertThat(e).as(name + " must be refused").isNotNull();
      assertThat(e.reason().name().toLowerCase(Locale.ROOT)).as(name + ": " + e.getMessage()).isEqualTo(reason(name));
      checked.add(name);
    }
    assertThat(checked).as("hostile decoder seeds").hasSizeGreaterThanOrEqualTo(10);
  }

  @Test
  void chunkSeedsDoWhatTheirNamesSay() throws IOException {
    Path dir = RESOURCES.resolve(FuzzSeeds.CHUNK_SEEDS);
    Map<String, byte[]> generated = FuzzSeeds.chunkSeeds(ZOO);
    for (String name : names(dir)) {
      List<String> outcomes = new ArrayList<>();
      ChunkAssemblyFuzzTest.run(Files.readAllBytes(dir.resolve(name)), false, outcomes);
      if (name.startsWith("real-")) {
        assertThat(outcomes).as(name).allMatch(o -> o.equals("held") || o.startsWith("frame"));
        assertThat(outcomes).as(name + ": the frame was rebuilt").contains("frame");
        assertThat(outcomes).as(name + ": the rebuilt v1-v3 frame decodes (a v4 frame goes to the learned decoder)")
            .noneMatch(o -> o.startsWith("frame ") && !o.equals("frame decoded") && !o.equals("frame UNSUPPORTED_VERSION"));
      } else {
        assertThat(outcomes).as(name).contains(reason(name));
      }
    }
    assertThat(names(dir)).hasSize(generated.size());
  }
}

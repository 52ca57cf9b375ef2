package dev.splitrt.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelRegistryTest {
  static final Path ZOO = Path.of(System.getProperty("splitrt.repo"), "models");
  static final String CLS = "fs-bottlefit-cls";
  static final String DET = "fs-leyolo-nano-det";

  @TempDir Path tmp;

  @Test
  void learnedModelsShareTheTeacherAndEvalFramesOfTheirBaseAndCarryTheirTables() throws Exception {
    ModelRegistry zoo = new ModelRegistry(ZOO);
    LoadedModel m = zoo.load("fs-entropic-cls-l0p5");
    assertThat(m.manifest().bottleneck().learned()).isTrue();
    assertThat(m.full().file()).isEqualTo(ZOO.resolve(CLS).resolve("full.onnx"));
    assertThat(m.resolve(m.manifest().eval().images())).isEqualTo(ZOO.resolve(CLS).resolve("eval"));
    assertThat(m.entropyTables().channels()).isEqualTo(8);
    assertThat(m.entropyTables().tableId() & 0xFFFFFFFFL).isEqualTo(m.manifest().bottleneck().entropyModel().tableId());
    // a sibling path must name a model folder; anything else outside the folder stays refused
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.resolve("../recipes/common.py"))
        .hasMessageContaining("not in a sibling model folder");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.resolve("../../pom.xml"))
        .hasMessageContaining("outside the model folder");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> zoo.load(CLS).resolve("../fs-bottlefit-cls/../../pom.xml"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aTamperedEntropyTableIsRefused() throws Exception {
    Path zoo = tmp.resolve("zoo");
    for (String id : new String[] {CLS, "fs-entropic-cls-l1"}) {
      try (var s = Files.walk(ZOO.resolve(id))) {
        for (Path p : s.toList()) {
          Path to = zoo.resolve(ZOO.relativize(p).toString());
          if (Files.isDirectory(p)) Files.createDirectories(to); else Files.copy(p, to);
        }
      }
    }
    Path tables = zoo.resolve("fs-entropic-cls-l1").resolve("entropy.json");
    Files.writeString(tables, Files.readString(tables).replaceFirst("\\[0,", "[1,"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ModelRegistry(zoo).load("fs-entropic-cls-l1"))
        .isInstanceOf(ModelException.class).hasMessageContaining("bottleneck.entropy_model.sha256");
  }

  /** What a device holds: manifest, head, reference vectors — no tail, no full graph, no evaluation data. */
  @Test
  void headOnlyLoadNeedsNothingButWhatTheDeviceRuns() throws Exception {
    Path dir = copy(CLS);
    Files.delete(dir.resolve("tail.onnx"));
    Files.delete(dir.resolve("full.onnx"));
    try (Stream<Path> s = Files.walk(dir.resolve("eval"))) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    assertThatThrownBy(() -> load(CLS)).hasMessageContaining("tail.file");
    LoadedModel m = new ModelRegistry(tmp).loadHead(CLS);
    assertThat(m.head().file()).isEqualTo(dir.resolve("head.onnx"));
    assertThat(m.headSha256()).hasSize(32);
    assertThat(ReferenceVector.load(m)).isNotEmpty();
  }

  @Test
  void headOnlyLoadRefusesAMissingOrCorruptHeadAndAMissingEntropyTable() throws Exception {
    Path dir = copy(CLS);
    Files.delete(dir.resolve("tail.onnx"));
    Files.move(dir.resolve("head.onnx"), dir.resolve("head.onnx.bak"));
    assertThatThrownBy(() -> new ModelRegistry(tmp).loadHead(CLS)).isInstanceOf(ModelException.class)
        .hasMessageContaining(dir.resolve("head.onnx") + ": file not found (head.file in " + dir.resolve("model.yaml"))
        .hasMessageContaining("fix: restore the file");
    Files.move(dir.resolve("head.onnx.bak"), dir.resolve("head.onnx"));
    try (FileChannel ch = FileChannel.open(dir.resolve("head.onnx"), StandardOpenOption.WRITE)) {
      ch.truncate(Files.size(dir.resolve("head.onnx")) / 2);
    }
    assertThatThrownBy(() -> new ModelRegistry(tmp).loadHead(CLS)).isInstanceOf(ModelException.class)
        .hasMessageContaining(dir.resolve("head.onnx") + ": SHA-256 is").hasMessageContaining("head.sha256");

    String learned = "fs-entropic-cls-l1";
    Path l = copy(learned);
    Files.delete(l.resolve("entropy.json"));
    assertThatThrownBy(() -> new ModelRegistry(tmp).loadHead(learned)).isInstanceOf(ModelException.class)
        .hasMessageContaining("bottleneck.entropy_model.file");
  }

  @Test
  void listsAndLoadsBothZooModels() throws Exception {
    ModelRegistry zoo = new ModelRegistry(ZOO);
    assertThat(zoo.ids()).containsExactly("fs-bottlefit-cls", "fs-entropic-cls-l0p2", "fs-entropic-cls-l0p5",
        "fs-entropic-cls-l1", DET);

    LoadedModel cls = zoo.load(CLS);
    assertThat(cls.manifest().task()).isEqualTo(ModelManifest.Task.CLASSIFICATION);
    assertThat(cls.manifest().input().padValue()).isEqualTo(114);
    assertThat(cls.manifest().postprocess().topK()).isEqualTo(3);
    assertThat(cls.head().input().shape()).containsExactly(1, 3, 224, 224);
    assertThat(cls.head().output().name()).isEqualTo("bottleneck");
    assertThat(cls.tail().output().shape()).containsExactly(1, 10);
    assertThat(cls.head().file()).isEqualTo(ZOO.resolve(CLS).resolve("head.onnx"));
    assertThat(cls.headSha256()).hasSize(32).startsWith((byte) 0x1e, (byte) 0x94);

    LoadedModel det = zoo.load(DET);
    assertThat(det.manifest().input().resize()).isEqualTo(ModelManifest.ResizeMode.LETTERBOX);
    assertThat(det.manifest().postprocess().strides()).containsExactly(8, 16, 32);
    assertThat(det.manifest().postprocess().evalScoreThreshold()).isEqualTo(0.001);
    assertThat(det.full().output().shape()).containsExactly(1, 2100, 14);
  }

  @Test
  void readsEveryReferenceVectorWithManifestSizes() throws Exception {
    LoadedModel det = new ModelRegistry(ZOO).load(DET);
    var vectors = ReferenceVector.load(det);
    assertThat(vectors).hasSize(2);
    assertThat(vectors.get(0).image()).isEqualTo(det.dir().resolve("reference/ref_0.png")).isRegularFile();
    assertThat(vectors.get(0).input()).hasSize(3 * 320 * 320);
    assertThat(vectors.get(0).headOutput()).hasSize(8 * 40 * 40);
    assertThat(vectors.get(0).tailOutput()).hasSize(2100 * 14);
  }

  @Test
  void unknownModelListsTheKnownIds() {
    assertThatThrownBy(() -> new ModelRegistry(ZOO).load("fs-nope"))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("unknown model 'fs-nope'")
        .hasMessageContaining(CLS + ", fs-entropic-cls-l0p2")
        .hasMessageContaining("fix:");
  }

  @Test
  void refusesIdsThatLeaveTheModelsFolder() {
    assertThatThrownBy(() -> new ModelRegistry(ZOO.resolve(CLS)).load("../" + CLS))
        .isInstanceOf(ModelException.class).hasMessageContaining("unknown model");
  }

  @Test
  void missingFileNamesTheFileAndTheField() throws Exception {
    Path dir = copy(CLS);
    Files.delete(dir.resolve("tail.onnx"));
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(dir.resolve("tail.onnx").toString())
        .hasMessageContaining("file not found (tail.file in " + dir.resolve("model.yaml"))
        .hasMessageContaining("fix: restore the file");
  }

  @Test
  void sha256MismatchSaysWhichFieldToUpdate() throws Exception {
    Path dir = copy(CLS);
    Files.write(dir.resolve("head.onnx"), new byte[] {0}, StandardOpenOption.APPEND);
    String actual = ModelRegistry.sha256(dir.resolve("head.onnx"));
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(dir.resolve("head.onnx") + ": SHA-256 is " + actual)
        .hasMessageContaining("says 1e94ad75077f07533687466679c31666e12211fddd433ddc920d5c97628aef2b")
        .hasMessageContaining("update head.sha256 in " + dir.resolve("model.yaml"));
  }

  @Test
  void unknownTensorNameShowsTheGraphsSignature() throws Exception {
    Path dir = copy(DET);
    edit(dir, "output:\n    name: detections\n    shape: [1, 2100, 14]\nfull:", "output:\n    name: boxes\n    shape: [1, 2100, 14]\nfull:");
    assertThatThrownBy(() -> load(DET))
        .hasMessageContaining(dir.resolve("tail.onnx") + ": graph output is 'detections' float[1, 2100, 14]")
        .hasMessageContaining("tail.output in " + dir.resolve("model.yaml") + " says 'boxes' float[1, 2100, 14]")
        .hasMessageContaining("fix: set tail.output in " + dir.resolve("model.yaml"));
  }

  @Test
  void shapeMismatchShowsExpectedAndFound() throws Exception {
    Path dir = copy(CLS);
    edit(dir, "name: bottleneck\n    shape: [1, 8, 28, 28]\ntail:", "name: bottleneck\n    shape: [1, 8, 14, 14]\ntail:");
    edit(dir, "name: bottleneck\n    shape: [1, 8, 28, 28]\n  output:\n    name: logits", "name: bottleneck\n    shape: [1, 8, 14, 14]\n  output:\n    name: logits");
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(dir.resolve("head.onnx") + ": graph output is 'bottleneck' float[1, 8, 28, 28]")
        .hasMessageContaining("says 'bottleneck' float[1, 8, 14, 14]")
        .hasMessageContaining("fix: set head.output in");
  }

  @Test
  void malformedYamlNamesTheFileAndLine() throws Exception {
    Path dir = copy(CLS);
    edit(dir, "family: bottlefit\n", "family: bottlefit: leyolo\n"); // "mapping values are not allowed here"
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(dir.resolve("model.yaml") + ":")
        .hasMessageContaining("malformed YAML")
        .hasMessageContaining("fix " + dir.resolve("model.yaml"))
        .hasMessageContaining("models/README.md");
  }

  @Test
  void unknownFieldIsRejectedWithTheKnownFields() throws Exception {
    Path dir = copy(CLS);
    edit(dir, "family: bottlefit\n", "family: bottlefit\ncolour: rgb\n");
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(dir.resolve("model.yaml").toString())
        .hasMessageContaining("unknown field 'colour'")
        .hasMessageContaining("known fields:")
        .hasMessageContaining("fix " + dir.resolve("model.yaml"));
  }

  @Test
  void corruptOnnxWithMatchingChecksumIsRejectedByTheSignatureReader() throws Exception {
    Path dir = copy(CLS);
    Path head = dir.resolve("head.onnx");
    try (FileChannel ch = FileChannel.open(head, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2);
    }
    edit(dir, "1e94ad75077f07533687466679c31666e12211fddd433ddc920d5c97628aef2b", ModelRegistry.sha256(head));
    assertThatThrownBy(() -> load(CLS))
        .hasMessageContaining(head + ": not a readable ONNX model")
        .hasMessageContaining("fix: restore the file");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      schema 2                | schema: 1                        | schema: 2                        | schema is 2, this runtime reads schema 1
      id differs from folder  | id: fs-bottlefit-cls             | id: fs-other                     | but the folder is 'fs-bottlefit-cls'
      id with capitals        | id: fs-bottlefit-cls             | id: Fs-Bottlefit                 | expected [a-z0-9-]+
      zero width              | width: 224                       | width: 0                         | input.width is 0
      width disagrees         | width: 224                       | width: 256                       | head.input.shape is [1, 3, 224, 224] but input width/height give [1, 3, 224, 256]
      two means               | mean: [0.485, 0.456, 0.406]      | mean: [0.485, 0.456]             | input.mean has 2 values, expected 3
      zero std                | std: [0.229, 0.224, 0.225]       | std: [0.229, 0, 0.225]           | input.std[1] is 0.0
      nhwc                    | layout: nchw                     | layout: nhwc                     | v1 supports only nchw
      pad value               | pad_value: 114                   | pad_value: 300                   | input.pad_value is 300
      codec bits              | bits: 4                          | bits: 7                          | bottleneck.codec.bits is 7
      granularity             | granularity: three_range_per_channel | granularity: per_row         | expected one of: per_tensor, per_channel
      symmetric three-range   | symmetric: false                 | symmetric: true                  | bottleneck.codec.symmetric is true with granularity three_range_per_channel
      entropy                 | entropy: zstd                    | entropy: lz4                     | expected one of: none, deflate, zstd
      labels count            | Bag, Ankle boot]                 | Bag]                             | labels has 9 names but tail.output.shape is [1, 10]
      duplicate label         | Bag, Ankle boot]                 | Bag, Bag]                        | contains 'Bag' twice
      top k                   | top_k: 3                         | top_k: 11                        | postprocess.top_k is 11, expected 1..10
      kind vs task            | kind: classification             | kind: detection                  | postprocess.kind is 'detection' but task is classification
      detection field         | top_k: 3}                        | top_k: 3, iou_threshold: 0.5}    | postprocess.iou_threshold is set but does not apply
      bad sha                 | sha256: 1e94ad75                 | sha256: 1E94AD75                 | head.sha256 is '1E94AD75
      path escapes            | file: tail.onnx                  | file: ../tail.onnx               | tail.file is '../tail.onnx', expected a plain path
      """)
  void rejectsBadValuesNamingFieldAndFix(String name, String from, String to, String expected) throws Exception {
    Path dir = copyManifest(CLS);
    edit(dir, from, to);
    assertThatThrownBy(() -> load(CLS))
        .isInstanceOf(ModelException.class)
        .hasMessageStartingWith(dir.resolve("model.yaml") + ": ")
        .hasMessageContaining(expected)
        .hasMessageContaining("fix: ");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      strides disagree   | strides: [8, 16, 32]       | strides: [8, 16]           | give 2000 anchor points for 320x320 but tail.output.shape has 2100
      stride not divisor | strides: [8, 16, 32]       | strides: [8, 16, 48]       | contains 48, which does not divide the input 320x320
      threshold range    | iou_threshold: 0.6         | iou_threshold: 1.5         | postprocess.iou_threshold is 1.5, expected 0..1
      missing decode     | '  decode: ltrb_anchor_free\\n' |                            | postprocess.decode is missing
      """)
  void rejectsBadDetectionPostprocess(String name, String from, String to, String expected) throws Exception {
    Path dir = copyManifest(DET);
    edit(dir, from.replace("\\n", "\n"), to == null ? "" : to);
    assertThatThrownBy(() -> load(DET))
        .hasMessageStartingWith(dir.resolve("model.yaml") + ": ")
        .hasMessageContaining(expected)
        .hasMessageContaining("fix: ");
  }

  private LoadedModel load(String id) throws ModelException {
    return new ModelRegistry(tmp).load(id);
  }

  /** Value checks run before any file is opened, so a folder holding only the manifest is enough for them. */
  private Path copyManifest(String id) throws IOException {
    Path dst = Files.createDirectories(tmp.resolve(id));
    Files.copy(ZOO.resolve(id).resolve("model.yaml"), dst.resolve("model.yaml"));
    return dst;
  }

  /**
   * Copies a zoo model into the temp dir (never touching the repo). Evaluation frames and the demo video
   * are only checked for existence by the registry, so they become empty stand-ins to keep tests fast.
   */
  private Path copy(String id) throws IOException {
    Path src = ZOO.resolve(id);
    Path dst = tmp.resolve(id);
    try (Stream<Path> files = Files.walk(src)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String rel = src.relativize(p).toString();
        Path target = dst.resolve(rel);
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else if (rel.endsWith(".jpg") || rel.endsWith(".avi")) Files.createFile(target);
        else Files.copy(p, target);
      }
    }
    return dst;
  }

  private static void edit(Path dir, String from, String to) throws IOException {
    Path yaml = dir.resolve("model.yaml");
    String text = Files.readString(yaml);
    assertThat(text).as("test fixture: model.yaml must contain %s", from).contains(from);
    Files.writeString(yaml, text.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to)));
  }
}

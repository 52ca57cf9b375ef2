package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalLabelsTest {
  private static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");

  @TempDir Path dir;

  private Path write(String json, String... images) throws IOException {
    for (String f : images) Files.write(dir.resolve(f), new byte[] {1});
    return Files.writeString(dir.resolve("labels.json"), json);
  }

  @Test
  void readsTheDetectorsEvalLabels() throws IOException {
    EvalLabels l = EvalLabels.read(MODELS.resolve("fs-leyolo-nano-det/eval/labels.json"));
    assertThat(l.task()).isEqualTo("detection");
    assertThat(l.classes()).hasSize(10).startsWith("T-shirt/top");
    assertThat(l.items()).hasSize(200);
    EvalLabels.Item first = l.items().get(0);
    assertThat(first.file()).isEqualTo("000000.jpg");
    assertThat(first.label()).isNull();
    assertThat(first.boxes()).hasSize(2);
    assertThat(first.boxes().get(0)).containsExactly(171.508, 129.709, 218.151, 183.701, 4);
  }

  @Test
  void readsTheClassifiersEvalLabels() throws IOException {
    EvalLabels l = EvalLabels.read(MODELS.resolve("fs-bottlefit-cls/eval/labels.json"));
    assertThat(l.task()).isEqualTo("classification");
    assertThat(l.items()).hasSize(300);
    assertThat(l.items().get(0).label()).isEqualTo(9);
    assertThat(l.items().get(0).boxes()).isEmpty();
  }

  @Test
  void missingLabelsFileIsNamed() {
    Path missing = dir.resolve("nope/labels.json");
    assertThatThrownBy(() -> EvalLabels.read(missing))
        .isInstanceOf(IOException.class).hasMessageContaining(missing.toString()).hasMessageContaining("not found");
  }

  @Test
  void missingImageIsNamedWithItsItem() throws IOException {
    Path p = write("""
        {"task":"classification","classes":["a","b"],"items":[{"file":"0.jpg","label":0},{"file":"1.jpg","label":1}]}
        """, "0.jpg");
    assertThatThrownBy(() -> EvalLabels.read(p))
        .isInstanceOf(IOException.class).hasMessageContaining("items[1] (1.jpg)").hasMessageContaining("not found");
  }

  @Test
  void missingLabelOfAnItemIsNamed() throws IOException {
    Path p = write("""
        {"task":"classification","classes":["a","b"],"items":[{"file":"0.jpg"}]}
        """, "0.jpg");
    assertThatThrownBy(() -> EvalLabels.read(p))
        .isInstanceOf(IOException.class).hasMessageContaining("items[0] (0.jpg): field 'label' is missing");
  }

  @Test
  void missingItemsFieldIsNamed() throws IOException {
    Path p = write("""
        {"task":"detection","classes":["a","b"]}
        """);
    assertThatThrownBy(() -> EvalLabels.read(p))
        .isInstanceOf(IOException.class).hasMessageContaining("field 'items' is missing");
  }

  @Test
  void rejectsABoxClassOutOfRange() throws IOException {
    Path p = write("""
        {"task":"detection","classes":["a","b"],"items":[{"file":"0.jpg","boxes":[[0,0,5,5,1],[1,1,4,4,2]]}]}
        """, "0.jpg");
    assertThatThrownBy(() -> EvalLabels.read(p))
        .isInstanceOf(IOException.class).hasMessageContaining("boxes[1]: class is 2; expected a class index 0..1");
  }

  @Test
  void rejectsUnknownFields() throws IOException {
    Path p = write("""
        {"task":"detection","classes":["a"],"items":[{"file":"0.jpg","boxes":[],"label":0}]}
        """, "0.jpg");
    assertThatThrownBy(() -> EvalLabels.read(p))
        .isInstanceOf(IOException.class).hasMessageContaining("unknown field 'label'");
  }
}

package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightsTableTest {
  @TempDir Path tmp;

  @Test
  void fp32SplitQuantRowsEqualThePlainOnesAndBothFilesAreWritten() throws Exception {
    WeightsTable.Table t = WeightsTable.measure(Zoo.load("fs-bottlefit-cls"), 8, 2);
    assertThat(t.frames()).isEqualTo(8);
    assertThat(t.rows()).hasSize(3 * 8 + 6);
    for (int i = 0; i < t.rows().size(); i += 2) {
      WeightsTable.Row plain = t.rows().get(i);
      WeightsTable.Row sq = t.rows().get(i + 1);
      assertThat(plain.variant().splitQuant()).isFalse();
      assertThat(sq.variant().splitQuant()).isTrue();
      if (plain.variant().bits() == 32) assertThat(sq.metric()).isEqualTo(plain.metric());
    }
    String md = WeightsTable.write(t, tmp);
    assertThat(md).contains("| head | INT4 |", "| head+tail | INT2 |", "INT8 activations (entropy)");
    assertThat(Files.readAllLines(tmp.resolve("quantization-weights.csv"))).hasSize(1 + 3 * 8 + 6)
        .first().isEqualTo("model,quantized,weights,activations,splitquant,frames,metric,value,map50_95");
  }
}

package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ReferenceVector;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizationTest {
  @TempDir Path tmp;

  @Test
  void writesACalibratedSplitQuantTailThatRunsOnTheHeadsOutput() throws Exception {
    LoadedModel m = Zoo.load("fs-bottlefit-cls");
    Path out = tmp.resolve("tail.onnx");
    Quantization.Summary s = Quantization.run(m,
        new Quantization.Options(Quantization.Part.TAIL, true, 8, Calibrator.Method.PERCENTILE, 4), out);
    assertThat(s.layers()).isEqualTo(12);
    assertThat(s.calibratedTensors()).isPositive();
    ModelProto q = Onnx.read(out);
    assertThat(Zoo.count(q, "Conv")).isEqualTo(3L * 11);
    assertThat(Zoo.count(q, "QuantizeLinear")).isEqualTo(s.calibratedTensors());
    ReferenceVector v = ReferenceVector.load(m).get(0);
    try (OrtRunner r = new OrtRunner(q, 2)) {
      assertThat(Zoo.relativeRms(v.tailOutput(), r.run(v.headOutput()).get(0))).isLessThan(0.1);
    }
  }

  @Test
  void refusesBitWidthsAndFrameCountsItCannotUse() {
    assertThatThrownBy(() -> new Quantization.Options(Quantization.Part.HEAD, false, 6, null, 0))
        .hasMessageContaining("use 8, 4 or 2");
    assertThatThrownBy(() -> new Quantization.Options(Quantization.Part.HEAD, false, 8, Calibrator.Method.MAX, 0))
        .hasMessageContaining("--frames 0");
  }
}

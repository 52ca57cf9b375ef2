package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rate-accuracy sweep through the real runtime path on a few of the classifier's evaluation frames. */
class CodecSweepTest {
  private static final Path MODELS = Path.of(System.getProperty("splitrt.repo"), "models");
  private static final int FRAMES = 12;

  private static InferenceBackend ort() {
    return Backends.byName("onnxruntime").orElseThrow();
  }

  @Test
  void measuresWholeMessagesAndSharesAccuracyAcrossEntropyStages(@TempDir Path tmp) throws Exception {
    LoadedModel m = new ModelRegistry(MODELS).load("fs-bottlefit-cls");
    List<CodecSpec> codecs = List.of(CodecSpec.parse("8b-per_tensor-asym-none"), CodecSpec.parse("8b-per_tensor-asym-zstd"),
        CodecSpec.parse("8b-per_tensor-asym-deflate"), CodecSpec.parse("2b-per_tensor-sym-none"),
        CodecSpec.parse("4b-three_range_per_channel-zstd"));
    AtomicInteger done = new AtomicInteger();
    CodecSweep.Result r = CodecSweep.run(m, ort(), new SessionOptions(1, "fp32"), List.of(CodecSweep.Variant.fp32()), codecs,
        FRAMES, done::set);
    assertThat(done.get()).isEqualTo(FRAMES);
    assertThat(r.rows()).extracting(CodecSweep.Row::name).containsExactly("unsplit-fp32", "split-fp32",
        "8b-per_tensor-asym-none", "8b-per_tensor-asym-zstd", "8b-per_tensor-asym-deflate", "2b-per_tensor-sym-none",
        "4b-three_range_per_channel-zstd");
    CodecSweep.Row none = r.find("fp32", "8b-per_tensor-asym-none").orElseThrow();
    CodecSweep.Row zstd = r.find("fp32", "8b-per_tensor-asym-zstd").orElseThrow();
    // 128-byte header + 6272 codes + CRC, as feature-frame-v1.md's size table says.
    assertThat(none.meanBytes()).isEqualTo(6404.0);
    assertThat(none.maxBytes()).isEqualTo(6404);
    assertThat(zstd.meanBytes()).isLessThan(6404.0);
    assertThat(zstd.maxBytes()).isGreaterThanOrEqualTo((int) Math.ceil(zstd.meanBytes()));
    assertThat(zstd.metric()).isEqualTo(none.metric());
    assertThat(r.rows()).allSatisfy(row -> assertThat(row.frames()).isEqualTo(FRAMES));
    // 8-bit per-tensor reproduces split FP32 on these frames; 2-bit symmetric per tensor is far worse on 6272 values.
    assertThat(none.metric()).isEqualTo(r.find("fp32", "split-fp32").orElseThrow().metric());
    assertThat(r.find("fp32", "2b-per_tensor-sym-none").orElseThrow().meanBytes()).isEqualTo(128 + 1568 + 4);

    RateAccuracyReport.Targets t = new RateAccuracyReport.Targets(0.9333, 0.9233, 3763);
    String md = RateAccuracyReport.markdown(r, t);
    assertThat(md.lines()).hasSize(2 + r.rows().size());
    assertThat(md).contains("| fp32 | `8b-per_tensor-asym-none` | 6,404 | 6,404 | 23.5 |");
    String csv = RateAccuracyReport.csv(r);
    assertThat(csv.lines()).hasSize(1 + r.rows().size());
    assertThat(csv).contains("fs-bottlefit-cls,fp32,8b-per_tensor-asym-none,8,per_tensor,false,none," + FRAMES + ",6404.0,6404,150528,");
    assertThat(RateAccuracyReport.meets(none, t)).as("6404 B is over a 3763 B budget").isFalse();

    Path png = tmp.resolve("plot.png");
    RateAccuracyReport.plot(r, "fp32", t, png);
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img.getWidth()).isEqualTo(1400);
    assertThat(img.getHeight()).isEqualTo(900);
  }

  @Test
  void aVariantGivenTheManifestsOwnFilesMatchesFp32(@TempDir Path tmp) throws Exception {
    LoadedModel m = new ModelRegistry(MODELS).load("fs-bottlefit-cls");
    Path head = tmp.resolve("head.onnx");
    Files.copy(m.head().file(), head);
    List<CodecSpec> codecs = List.of(CodecSpec.parse("4b-per_channel-asym-none"));
    CodecSweep.Result r = CodecSweep.run(m, ort(), new SessionOptions(1, "fp32"),
        List.of(CodecSweep.Variant.fp32(), new CodecSweep.Variant("copy", head, null)), codecs, 6, null);
    assertThat(r.rows()).extracting(CodecSweep.Row::variant).containsExactly("fp32", "fp32", "fp32", "copy", "copy");
    CodecSweep.Row a = r.find("fp32", "4b-per_channel-asym-none").orElseThrow();
    CodecSweep.Row b = r.find("copy", "4b-per_channel-asym-none").orElseThrow();
    assertThat(b.metric()).isEqualTo(a.metric());
    assertThat(b.meanBytes()).isEqualTo(a.meanBytes());
  }

  @Test
  void refusesAMissingVariantFileNamingIt(@TempDir Path tmp) throws Exception {
    LoadedModel m = new ModelRegistry(MODELS).load("fs-bottlefit-cls");
    Path missing = tmp.resolve("nope.onnx");
    assertThatThrownBy(() -> CodecSweep.run(m, ort(), new SessionOptions(1, "fp32"),
        List.of(new CodecSweep.Variant("x", null, missing)), List.of(CodecSpec.parse("8b-per_tensor-asym-none")), 1, null))
        .isInstanceOf(java.io.IOException.class).hasMessageContaining("nope.onnx").hasMessageContaining("tail");
  }

  @Test
  void allCodecsCoverTheWholeGrid() {
    List<CodecSpec> all = CodecSweep.allCodecs();
    assertThat(all).hasSize(4 * (2 * 2 + 2) * 3).doesNotHaveDuplicates();
  }
}

package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EngineKeyTest {
  private static final EngineKey BASE = new EngineKey("1e94ad75077f07533687466679c31666e12211fddd433ddc920d5c97628aef2b",
      "10.6.0.26", "NVIDIA H200", "9.0", "fp16", "server-h200", "abc123");

  @Test
  void sameInputsGiveTheSameDigestAndFileName() {
    EngineKey again = new EngineKey(BASE.modelSha256(), BASE.tensorrtVersion(), BASE.gpuName(), BASE.sm(), BASE.precision(),
        BASE.profile(), BASE.settingsHash());
    assertThat(again.digest()).isEqualTo(BASE.digest()).hasSize(64);
    assertThat(again.fileName("fs-bottlefit-cls", "head")).isEqualTo(BASE.fileName("fs-bottlefit-cls", "head"))
        .matches("fs-bottlefit-cls-head-fp16-[0-9a-f]{16}\\.engine");
  }

  @Test
  void everyComponentChangesTheDigest() {
    List<EngineKey> variants = List.of(BASE,
        new EngineKey("0" + BASE.modelSha256().substring(1), "10.6.0.26", "NVIDIA H200", "9.0", "fp16", "server-h200", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.15.1.29", "NVIDIA H200", "9.0", "fp16", "server-h200", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.6.0.26", "NVIDIA H100 80GB HBM3", "9.0", "fp16", "server-h200", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.6.0.26", "NVIDIA H200", "8.7", "fp16", "server-h200", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.6.0.26", "NVIDIA H200", "9.0", "fp32", "server-h200", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.6.0.26", "NVIDIA H200", "9.0", "fp16", "server-h100", "abc123"),
        new EngineKey(BASE.modelSha256(), "10.6.0.26", "NVIDIA H200", "9.0", "fp16", "server-h200", "abc124"));
    Set<String> digests = new HashSet<>();
    Set<String> files = new HashSet<>();
    for (EngineKey k : variants) {
      digests.add(k.digest());
      files.add(k.fileName("m", "head"));
    }
    assertThat(digests).hasSize(variants.size());
    assertThat(files).hasSize(variants.size());
  }

  @Test
  void modelHashCaseDoesNotMatter() {
    EngineKey upper = new EngineKey(BASE.modelSha256().toUpperCase(), "10.6.0.26", "NVIDIA H200", "9.0", "fp16", "server-h200", "abc123");
    assertThat(upper.digest()).isEqualTo(BASE.digest());
  }

  @Test
  void rejectsAMissingComponent() {
    assertThatThrownBy(() -> new EngineKey(BASE.modelSha256(), "", "NVIDIA H200", "9.0", "fp16", "p", "h"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("TensorRT version");
  }
}

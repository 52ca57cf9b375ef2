package dev.splitrt.infer.tensorrt;

import dev.splitrt.infer.BackendPreference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.infer.InferenceException;
import dev.splitrt.profile.DeviceProfile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BuilderSettingsTest {
  private static DeviceProfile profile(List<String> precisions, DeviceProfile.EngineBuild e) {
    return new DeviceProfile("p", "d", "b", "aarch64", new DeviceProfile.Gpu("Orin", "8.7"), precisions, 2, 8192,
        BackendPreference.auto, new DeviceProfile.Pipeline(0, 4, 0, null), new DeviceProfile.Network(1000, 1 << 20),
        "Tegra234", null, null, e);
  }

  @Test
  void takesEveryEngineSettingFromTheProfile() throws InferenceException {
    BuilderSettings s = BuilderSettings.resolve(profile(List.of("fp32", "fp16"),
        new DeviceProfile.EngineBuild(1, false, 512, 5, "t.cache")), "fp16", Path.of("/cache"));
    assertThat(s).isEqualTo(new BuilderSettings("fp16", "p", 1, false, 512L << 20, 5, Path.of("/cache/t.cache")));
  }

  @Test
  void usesDefaultsWithoutAnEngineSection() throws InferenceException {
    BuilderSettings s = BuilderSettings.resolve(profile(List.of("fp32"), null), null, Path.of("/c"));
    assertThat(s).isEqualTo(new BuilderSettings("fp32", "p", -1, true, 1024L << 20, 3, null));
  }

  @Test
  void refusesAPrecisionTheProfileDoesNotList() {
    assertThatThrownBy(() -> BuilderSettings.resolve(profile(List.of("fp32", "fp16"), null), "int8", Path.of("/c")))
        .isInstanceOf(InferenceException.class).hasMessageContaining("'p'").hasMessageContaining("int8").hasMessageContaining("precisions");
    assertThatThrownBy(() -> BuilderSettings.resolve(null, "fp8", Path.of("/c")))
        .isInstanceOf(InferenceException.class).hasMessageContaining("fp8").hasMessageContaining("fp32, fp16, int8");
  }

  @Test
  void hashChangesWithEveryEngineAffectingSettingButNotTheTimingCacheFile() {
    BuilderSettings a = new BuilderSettings("fp16", "p", -1, true, 1L << 30, 3, null);
    assertThat(a.hash()).isEqualTo(new BuilderSettings("fp16", "p", -1, true, 1L << 30, 3, Path.of("x")).hash());
    for (BuilderSettings b : List.of(new BuilderSettings("fp32", "p", -1, true, 1L << 30, 3, null),
        new BuilderSettings("fp16", "p", 0, true, 1L << 30, 3, null), new BuilderSettings("fp16", "p", -1, false, 1L << 30, 3, null),
        new BuilderSettings("fp16", "p", -1, true, 1L << 29, 3, null), new BuilderSettings("fp16", "p", -1, true, 1L << 30, 4, null))) {
      assertThat(b.hash()).as(b.toString()).isNotEqualTo(a.hash());
    }
  }
}

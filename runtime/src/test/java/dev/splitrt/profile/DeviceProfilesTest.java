package dev.splitrt.profile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DeviceProfilesTest {
  private static final Path SHIPPED = Path.of(System.getProperty("splitrt.repo", "..")).resolve("device-profiles");

  private static final String ORIN = """
      name: t
      description: test
      board: NVIDIA Jetson AGX Orin
      soc: Tegra234
      arch: aarch64
      gpu: {name: Orin, sm: '8.7'}
      precisions: [fp32, fp16, int8]
      dla_cores: 2
      memory_mb: 32768
      backend: auto
      software: {jetpack: '6.1', tensorrt_min: '10.3', tensorrt_max: '10.x', cuda: '12.6', glibc: '2.35', build: jetpack6}
      power_mode: {nvpmodel: 0, name: MAXN, watts: 40}
      engine: {dla_core: 1, gpu_fallback: true, workspace_mb: 1024, builder_optimization_level: 3, timing_cache: t.timing}
      pipeline: {fps_cap: 30, queue_depth: 4, threads: 0, codec: {bits: 8, granularity: per_tensor, symmetric: false, entropy: none}}
      network: {uplink_kbps: 1000, max_packet_bytes: 1048576}
      """;

  @TempDir Path dir;

  @Test
  void loadsEveryShippedProfile() throws ConfigException {
    DeviceProfiles profiles = new DeviceProfiles(SHIPPED);
    assertThat(profiles.names()).contains("x86-64-cpu", "jetson-nano", "jetson-xavier-nx", "jetson-agx-xavier",
        "jetson-orin-nano-4gb", "jetson-orin-nano-8gb", "jetson-orin-nx-8gb", "jetson-orin-nx-16gb", "jetson-agx-orin-32gb",
        "jetson-agx-orin-64gb", "server-h100", "server-h200");
    for (String n : profiles.names()) assertThat(profiles.load(n).name()).isEqualTo(n);
  }

  @Test
  void nanoIsUnsupportedAndSaysWhy() throws Exception {
    DeviceProfile nano = new DeviceProfiles(SHIPPED).load("jetson-nano");
    assertThat(nano.gpu().sm()).isEqualTo("5.3");
    assertThat(nano.software().build()).isEqualTo(DeviceProfile.BuildLine.none);
    assertThat(nano.software().glibc()).isEqualTo("2.27");
    assertThat(nano.software().unsupported()).contains("glibc 2.27").contains("2.28").contains("TensorRT 8.2");
    assertThat(Files.readString(SHIPPED.resolve("jetson-nano.yaml"))).contains("SM 5.3").contains("UNSUPPORTED");
  }

  @Test
  void readsTheExtendedSchema() throws ConfigException, java.io.IOException {
    Files.writeString(dir.resolve("t.yaml"), ORIN);
    DeviceProfile p = new DeviceProfiles(dir).load("t");
    assertThat(p.engine()).isEqualTo(new DeviceProfile.EngineBuild(1, true, 1024, 3, "t.timing"));
    assertThat(p.software()).isEqualTo(new DeviceProfile.Software("6.1", "10.3", "10.x", "12.6", "2.35", DeviceProfile.BuildLine.jetpack6, null));
    assertThat(p.powerMode()).isEqualTo(new DeviceProfile.PowerMode(0, "MAXN", 40));
    assertThat(p.soc()).isEqualTo("Tegra234");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "dla_core: 1|dla_core: 2|'engine.dla_core'",
      "workspace_mb: 1024|workspace_mb: 1|'engine.workspace_mb'",
      "builder_optimization_level: 3|builder_optimization_level: 6|'engine.builder_optimization_level'",
      "timing_cache: t.timing|timing_cache: ' '|'engine.timing_cache'",
      "nvpmodel: 0|nvpmodel: -1|'power_mode.nvpmodel'",
      "watts: 40|watts: 0|'power_mode.watts'",
      "name: MAXN|name: ''|'power_mode.name'",
      "jetpack: '6.1'|jetpack: six|'software.jetpack'",
      "tensorrt_min: '10.3'|tensorrt_min: '10.x.y'|'software.tensorrt_min'",
      "tensorrt_max: '10.x'|tensorrt_max: '9.0'|'software.tensorrt_min' 10.3 is above",
      "cuda: '12.6'|cuda: twelve|'software.cuda'",
      "sm: '8.7'|sm: '5.3'|below 7.0",
      "dla_cores: 2|dla_cores: 3|'dla_cores'",
      "precisions: [fp32, fp16, int8]|precisions: [fp32, fp64]|'precisions' has 'fp64'",
      "gpu: {name: Orin, sm: '8.7'}|gpu: null|'engine' needs a 'gpu' section",
      "glibc: '2.35'|glibc: '2.31'|JetPack 6.1 ships glibc 2.35",
      "build: jetpack6|build: null|'software.build' must say",
      "build: jetpack6|build: none|'software.unsupported' must say why",
      "build: jetpack6}|build: jetpack6, unsupported: because}|'software.unsupported' is set",
      "jetpack: '6.1'|jetpack: '3.3'|has no known glibc",
  })
  void rejectsEachBadValueNamingTheField(String good, String bad, String expected) throws Exception {
    assertThat(ORIN).contains(good);
    Files.writeString(dir.resolve("t.yaml"), ORIN.replace(good, bad));
    assertThatThrownBy(() -> new DeviceProfiles(dir).load("t")).isInstanceOf(ConfigException.class)
        .hasMessageContaining(expected).hasMessageContaining("t.yaml");
  }

  @Test
  void comparesVersionsWithWildcards() {
    assertThat(DeviceProfiles.compareVersions("10.3", "10.x")).isNegative();
    assertThat(DeviceProfiles.compareVersions("10.15", "10.6")).isPositive();
    assertThat(DeviceProfiles.compareVersions("10.6", "10.6.0")).isZero();
    assertThat(List.of("8.5", "10.3")).isSortedAccordingTo(DeviceProfiles::compareVersions);
  }
}

package dev.splitrt.profile;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DeviceDetectorTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0} {1} MB -> {2}")
  @CsvSource({
      "NVIDIA Jetson Nano Developer Kit, 3964, jetson-nano",
      "NVIDIA Jetson Xavier NX Developer Kit, 7765, jetson-xavier-nx",
      "Jetson-AGX, 31920, jetson-agx-xavier",
      "NVIDIA Jetson AGX Xavier Developer Kit, 31920, jetson-agx-xavier",
      "NVIDIA Jetson Orin Nano Developer Kit, 7620, jetson-orin-nano-8gb",
      "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit, 3450, jetson-orin-nano-4gb",
      "NVIDIA Jetson Orin NX Engineering Reference Developer Kit, 15388, jetson-orin-nx-16gb",
      "NVIDIA Jetson Orin NX Engineering Reference Developer Kit, 7450, jetson-orin-nx-8gb",
      "NVIDIA Jetson AGX Orin Developer Kit, 62800, jetson-agx-orin-64gb",
      "NVIDIA Jetson AGX Orin, 30536, jetson-agx-orin-32gb",
  })
  void mapsJetsonBoardsAndMemoryToProfiles(String model, long memMb, String profile) throws Exception {
    Files.write(dir.resolve("model"), (model + "\0").getBytes());
    Files.writeString(dir.resolve("meminfo"), "MemTotal:       " + memMb * 1024 + " kB\nMemFree: 1 kB\n");
    DeviceDetector.Detection d = DeviceDetector.detect(null, dir.resolve("model"), dir.resolve("meminfo"), null);
    assertThat(d.profile()).isEqualTo(profile);
    assertThat(d.reason()).contains(model);
  }

  @Test
  void anOverrideWins() {
    assertThat(DeviceDetector.detect("jetson-orin-nx-8gb", dir.resolve("none"), dir.resolve("none"), "NVIDIA H200").profile())
        .isEqualTo("jetson-orin-nx-8gb");
  }

  @Test
  void usesTheCudaDeviceOffJetsonsAndFallsBackToCpu() {
    assertThat(DeviceDetector.detect(null, dir.resolve("none"), dir.resolve("none"), "NVIDIA H200").profile()).isEqualTo("server-h200");
    assertThat(DeviceDetector.detect(null, dir.resolve("none"), dir.resolve("none"), "NVIDIA H100 80GB HBM3").profile()).isEqualTo("server-h100");
    DeviceDetector.Detection d = DeviceDetector.detect(null, dir.resolve("none"), dir.resolve("none"), null);
    assertThat(d.profile()).isEqualTo(DeviceDetector.FALLBACK);
    assertThat(d.reason()).contains("no Jetson device tree and no CUDA device");
  }
}

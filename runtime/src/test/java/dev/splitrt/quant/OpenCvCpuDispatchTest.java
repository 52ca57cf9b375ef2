package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.opencv.global.opencv_core;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Makes a CI run "with OpenCV's AVX-512 dispatch disabled" checkable: OpenCV reads
 * {@code OPENCV_CPU_DISABLE} once at start and silently ignores names it does not know (4.13 wants
 * {@code AVX512F,AVX512-SKX,…}; the underscore spellings of older releases are dropped), so a run
 * that sets a misspelled list would test the AVX-512 paths while claiming not to. This test fails
 * such a run: every name in the variable that OpenCV knows must read as unsupported, and at least
 * one name must be known.
 */
class OpenCvCpuDispatchTest {

  /** OpenCV's feature ids run below 512 (CPU_MAX_FEATURE); names are empty for unused ids. */
  static Map<String, Integer> featuresByName() {
    Map<String, Integer> byName = new LinkedHashMap<>();
    for (int id = 1; id < 512; id++) {
      var name = opencv_core.getHardwareFeatureName(id);
      // OpenCV pads its names with spaces to a fixed width.
      String s = name == null ? "" : name.getString().trim();
      if (!s.isEmpty()) {
        byName.put(s, id);
      }
    }
    return byName;
  }

  @Test
  void everyFeatureNamedInOpenCvCpuDisableIsOff() {
    String disabled = System.getenv("OPENCV_CPU_DISABLE");
    String line = opencv_core.getCPUFeaturesLine().getString();
    System.out.println("OpenCV dispatch: " + line + " (OPENCV_CPU_DISABLE=" + disabled + ")");
    Assumptions.assumeTrue(disabled != null && !disabled.isBlank(),
        "OPENCV_CPU_DISABLE is not set: OpenCV dispatches to everything this CPU has (" + line + ")");

    Map<String, Integer> known = featuresByName();
    List<String> unknown = new ArrayList<>();
    List<String> stillOn = new ArrayList<>();
    int honoured = 0;
    for (String raw : disabled.split("[,;\\s]+")) {
      String name = raw.trim();
      if (name.isEmpty()) {
        continue;
      }
      Integer id = known.get(name);
      if (id == null) {
        unknown.add(name);
      } else if (opencv_core.checkHardwareSupport(id)) {
        stillOn.add(name);
      } else {
        honoured++;
      }
    }
    System.out.println("OpenCV ignores these names in OPENCV_CPU_DISABLE: " + unknown);
    assertThat(stillOn).as("features named in OPENCV_CPU_DISABLE that OpenCV still uses").isEmpty();
    assertThat(honoured).as("names in OPENCV_CPU_DISABLE that OpenCV knows (it knows " + known.keySet() + ")")
        .isPositive();
  }
}

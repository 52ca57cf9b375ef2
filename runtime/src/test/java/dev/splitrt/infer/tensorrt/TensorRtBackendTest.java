package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.infer.TensorSpec;
import java.nio.file.Path;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class TensorRtBackendTest {
  @Test
  void isRegisteredForServiceLoaderAsTensorrt() {
    assertThat(ServiceLoader.load(InferenceBackend.class).stream().map(ServiceLoader.Provider::get).map(InferenceBackend::name))
        .contains("tensorrt");
  }

  @Test
  void probingTwiceNeverThrowsAndGivesTheSameAnswer() {
    // A second real attempt after a failed native load meets NoClassDefFoundError: it must be caught too.
    NativeProbe.Result first = NativeProbe.attempt();
    NativeProbe.Result second = NativeProbe.attempt();
    assertThat(second.unavailable().isPresent()).isEqualTo(first.unavailable().isPresent());
    TensorRtBackend b = new TensorRtBackend();
    assertThat(b.unavailableReason()).isEqualTo(new TensorRtBackend().unavailableReason());
    if (first.runtime() == null) {
      assertThat(first.reason()).containsAnyOf("TensorRT", "CUDA");
      assertThat(second.reason()).containsAnyOf("TensorRT", "CUDA");
      System.out.println("TensorRT unavailable here: " + b.unavailableReason().orElseThrow());
    }
  }

  @Test
  void openWithoutTensorRtSaysWhyInsteadOfCrashing() {
    TensorRtBackend b = new TensorRtBackend(null, Path.of("target/engines"));
    if (b.unavailableReason().isEmpty()) return; // a GPU machine: TensorRtZooTest covers open()
    ModelPartRef part = new ModelPartRef("m", "head", Path.of("head.onnx"), "00", new TensorSpec("x", new int[] {1}),
        new TensorSpec("y", new int[] {1}));
    assertThatThrownBy(() -> b.open(part, SessionOptions.defaults())).isInstanceOf(InferenceException.class)
        .hasMessageStartingWith("TensorRT is not usable here: ");
    assertThat(b.cudaDeviceName()).isEmpty();
  }
}

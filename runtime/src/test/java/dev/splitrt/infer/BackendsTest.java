package dev.splitrt.infer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class BackendsTest {
  private final Logger log = (Logger) LoggerFactory.getLogger(Backends.class);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

  @BeforeEach
  void capture() {
    lines.start();
    log.addAppender(lines);
  }

  @AfterEach
  void release() {
    log.detachAppender(lines);
  }

  @Test
  void onnxRuntimeIsRegisteredThroughTheServiceFile() {
    assertThat(Backends.byName("onnxruntime")).get().isInstanceOf(OnnxRuntimeBackend.class);
    assertThat(Backends.byName("onnxruntime").orElseThrow().unavailableReason()).isEmpty();
    assertThat(Backends.byName("cuda-magic")).isEmpty();
  }

  @Test
  void autoFallsBackToOnnxRuntimeAndLogsOneLineSayingWhyWhereTensorRtCannotLoad() throws Exception {
    InferenceBackend trt = Backends.byName("tensorrt").orElseThrow();
    org.junit.jupiter.api.Assumptions.assumeTrue(trt.unavailableReason().isPresent(), "TensorRT loads here; the fallback is not exercised");
    assertThat(Backends.select(BackendPreference.auto).name()).isEqualTo("onnxruntime");
    assertThat(lines.list).hasSize(1);
    assertThat(lines.list.get(0).getFormattedMessage())
        .startsWith("inference backend: onnxruntime (auto; tensorrt unavailable: ")
        .contains(trt.unavailableReason().get());
  }

  @Test
  void explicitOnnxRuntimeIsHonoured() throws Exception {
    assertThat(Backends.select(BackendPreference.onnxruntime).name()).isEqualTo("onnxruntime");
    assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly("inference backend: onnxruntime (requested by the device profile)");
  }

  @Test
  void explicitTensorRtThatCannotLoadHereFailsWithTheFix() {
    InferenceBackend trt = Backends.byName("tensorrt").orElseThrow();
    org.junit.jupiter.api.Assumptions.assumeTrue(trt.unavailableReason().isPresent(), "TensorRT loads here");
    assertThatThrownBy(() -> Backends.select(BackendPreference.tensorrt))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("'tensorrt' cannot run here: " + trt.unavailableReason().get())
        .hasMessageContaining("fix: set backend: auto");
  }
}

package dev.splitrt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's main job, {@code splitrt demo}, on the embedded broker: its JSON summary holds and adds up. */
class DemoIT {
  @Test
  void classifierDemoDeliversEveryFrameAndReportsTheSummary() throws Exception {
    CliTest.Outcome o = CliTest.run("demo", "--frames", "60", "--json");
    assertThat(o.code()).as(o.err()).isZero();
    String[] lines = o.out().trim().split("\n");
    JsonNode j = new ObjectMapper().readTree(lines[lines.length - 1]);
    System.out.println("demo classifier: " + j);
    assertThat(j.get("frames").asInt()).isEqualTo(60);
    assertThat(j.get("lost").asInt()).isZero();
    assertThat(j.get("delivered").asInt()).isEqualTo(j.get("frames").asInt() - j.get("dropped").asInt());
    for (String k : new String[] {"fps", "latency_ms", "head_ms", "tail_ms", "bytes_per_frame", "jpeg_bytes_per_frame", "accuracy",
        "reference_accuracy", "broker", "backend"}) {
      assertThat(j.has(k)).as(k).isTrue();
    }
    assertThat(j.get("latency_ms").get("p99").asDouble()).isGreaterThanOrEqualTo(j.get("latency_ms").get("p50").asDouble());
    assertThat(j.get("bytes_per_frame").asDouble()).isLessThan(j.get("raw_bytes_per_frame").asDouble() / 12);
  }

  @Test
  void detectorDemoWritesAnnotatedFrames(@TempDir Path out) throws Exception {
    CliTest.Outcome o = CliTest.run("demo", "--model", "fs-leyolo-nano-det", "--frames", "20", "--json", "--out", out.toString());
    assertThat(o.code()).as(o.err()).isZero();
    String[] lines = o.out().trim().split("\n");
    JsonNode j = new ObjectMapper().readTree(lines[lines.length - 1]);
    System.out.println("demo detector: " + j);
    assertThat(j.get("lost").asInt()).isZero();
    assertThat(j.get("map50").asDouble()).isGreaterThan(0.5);
    try (var files = java.nio.file.Files.list(out)) {
      assertThat(files.filter(p -> p.toString().endsWith(".png")).count()).isEqualTo(4);
    }
  }
}

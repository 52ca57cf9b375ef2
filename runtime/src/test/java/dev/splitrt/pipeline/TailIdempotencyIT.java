package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.codec.Granularity;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tail is idempotent: a repeated feature (an edge resend, a QoS 1 duplicate) gets the result
 * computed the first time, published again, and is counted as a duplicate, not as a second result.
 * (Tail restarts as real processes: tools' TailRestartIT.)
 */
class TailIdempotencyIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "tr";
  private static final String DEVICE = "cam-tr";
  private static final Duration T = Duration.ofSeconds(60);
  @TempDir Path dir;
  static LoadedModel model;
  static FeatureEncoder encoder;
  static FloatBuffer features;

  @BeforeAll
  static void setUp() throws Exception {
    Mosquitto.assumeAvailable();
    model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    encoder = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), model.manifest().head().output().dims());
    features = FloatBuffer.wrap(ReferenceVector.load(model).get(0).headOutput());
  }

  private static byte[] frame(long seq) {
    features.rewind();
    return encoder.encode(new FrameHeader(DEVICE, model.manifest().id(), model.headSha256(), seq, 1_000_000L + seq, 224, 224), features);
  }

  /** sequence -> runners that answered it, plus every raw result. */
  private static final class Results {
    final Map<Long, List<String>> bySeq = new ConcurrentHashMap<>();
    final List<byte[]> raw = new CopyOnWriteArrayList<>();
    final ObjectMapper json = new ObjectMapper();

    void attach(MqttLink link) {
      link.subscribe(Topics.results(FLEET, DEVICE, model.manifest().id()), 1, (t, p) -> {
        JsonNode n = json.readTree(p);
        raw.add(p);
        bySeq.computeIfAbsent(n.get("sequence").asLong(), k -> new CopyOnWriteArrayList<>()).add(n.get("runner").asText());
      });
    }

    Set<Long> missing(long from, long to) {
      Set<Long> m = new TreeSet<>();
      for (long s = from; s < to; s++) if (!bySeq.containsKey(s)) m.add(s);
      return m;
    }
  }

  @Test
  void aRepeatedFeatureGetsTheSameResultAgainNotASecondComputation() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto m = Mosquitto.start(dir.resolve("dup"));
         MqttLink edge = MqttLink.start(MqttSettings.defaults(m.url(), "edge-tr"), null);
         MqttLink results = MqttLink.start(MqttSettings.defaults(m.url(), "results-tr"), null);
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(m.url(), "tail-dup-0"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "dup", "dup", 2, 1, false, 64), List.of(model),
             Backends.byName("onnxruntime").orElseThrow(), tailLink, metrics)) {
      assertThat(edge.awaitConnected(T)).isTrue();
      assertThat(results.awaitConnected(T)).isTrue();
      assertThat(tailLink.awaitConnected(T)).isTrue();
      Results got = new Results();
      got.attach(results);
      String topic = Topics.features(FLEET, DEVICE, model.manifest().id());
      byte[] f = frame(7);
      for (int i = 0; i < 3; i++) edge.publish(topic, f, 1, false).get(10, TimeUnit.SECONDS);
      edge.publish(topic, frame(8), 1, false).get(10, TimeUnit.SECONDS);
      await().atMost(T).until(() -> got.raw.size() == 4);
      assertThat(got.bySeq.get(7L)).hasSize(3);
      assertThat(got.bySeq.get(8L)).hasSize(1);
      List<String> sevens = new ArrayList<>();
      for (byte[] r : got.raw) {
        String s = new String(r, StandardCharsets.UTF_8);
        if (s.contains("\"sequence\":7,")) sevens.add(s);
      }
      assertThat(sevens).hasSize(3);
      assertThat(Set.copyOf(sevens)).as("the same result bytes (same done_us): computed once").hasSize(1);
      assertThat(tail.stats().published()).isEqualTo(2);
      assertThat(tail.stats().duplicates()).isEqualTo(2);
      assertThat(metrics.prometheusText()).contains("splitrt_tail_duplicates_total 2");
    }
  }
}

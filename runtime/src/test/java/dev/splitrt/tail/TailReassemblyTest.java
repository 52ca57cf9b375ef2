package dev.splitrt.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.FeatureChunks;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.codec.Granularity;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tail's reassembly bounds without a broker: chunks go straight into the runner, whose link
 * never connects (its outbox keeps what the runner publishes: dead letters and results). Each bound
 * hit is a dead letter with its reason, counted per reason.
 */
class TailReassemblyTest {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "ra";
  private static final String DEVICE = "cam-ra";
  static LoadedModel model;
  static FeatureEncoder encoder;
  static FloatBuffer features;
  static String topic;

  @BeforeAll
  static void setUp() throws Exception {
    model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    encoder = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), model.manifest().head().output().dims());
    features = FloatBuffer.wrap(ReferenceVector.load(model).get(0).headOutput());
    topic = Topics.features(FLEET, DEVICE, model.manifest().id());
  }

  private static byte[] frame(long seq) {
    features.rewind();
    return encoder.encode(new FrameHeader(DEVICE, model.manifest().id(), model.headSha256(), seq, 1_000_000L + seq, 224, 224, 1),
        features);
  }

  private static List<byte[]> chunks(long seq) {
    return FeatureChunks.split(frame(seq), 2_000);
  }

  private static long metric(MetricsRegistry m, String name) {
    for (String line : m.prometheusText().split("\n")) {
      if (line.startsWith(name + " ")) return (long) Double.parseDouble(line.substring(name.length() + 1));
    }
    return 0;
  }

  private static MqttLink offlineLink() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    return MqttLink.start(MqttSettings.defaults("tcp://127.0.0.1:" + port, "tail-ra"), null);
  }

  private static TailRunner runner(MqttLink link, MetricsRegistry metrics, long bytes, int sets, Duration timeout) throws Exception {
    return TailRunner.start(new TailRunner.Settings(FLEET, "ra", "tail-ra", 1, 1, false, 64, 64L << 20, 16, bytes, sets, timeout),
        List.of(model), Backends.byName("onnxruntime").orElseThrow(), link, metrics);
  }

  @Test
  void theSetBoundDeadLettersAnotherSetAsReassemblyFullAndACompleteSetIsAnswered() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (MqttLink link = offlineLink(); TailRunner tail = runner(link, metrics, 32L << 20, 2, Duration.ofSeconds(30))) {
      tail.onMessage(topic, chunks(1).get(0));
      tail.onMessage(topic, chunks(2).get(0));
      tail.onMessage(topic, chunks(3).get(0)); // a third set: over the bound of 2
      assertThat(tail.awaitIdle(10_000)).isTrue();
      assertThat(metric(metrics, "splitrt_tail_deadletter_reassembly_full_total")).isEqualTo(1);
      assertThat(metric(metrics, "splitrt_tail_deadletter_total")).isEqualTo(1);
      // The open sets still complete: set 1's remaining chunks make a frame, which is answered.
      List<byte[]> one = chunks(1);
      for (int i = 1; i < one.size(); i++) tail.onMessage(topic, one.get(i));
      assertThat(tail.awaitIdle(10_000)).isTrue();
      assertThat(tail.stats().published()).isEqualTo(1);
      assertThat(metric(metrics, "splitrt_tail_chunks_received_total")).isEqualTo(3 + one.size() - 1);
      assertThat(link.stats().outboxMessages()).as("one dead letter and one result wait in the outbox").isEqualTo(2);
    }
  }

  @Test
  void theByteBoundDeadLettersASetWhoseFrameWouldNotFit() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    int frameBytes = frame(1).length;
    try (MqttLink link = offlineLink();
         TailRunner tail = runner(link, metrics, 2L * frameBytes + frameBytes / 2, 100, Duration.ofSeconds(30))) {
      tail.onMessage(topic, chunks(1).get(0));
      tail.onMessage(topic, chunks(2).get(0));
      tail.onMessage(topic, chunks(3).get(0)); // sets are free, bytes are not: 3 frames > 2.5 frames
      assertThat(tail.awaitIdle(10_000)).isTrue();
      assertThat(metric(metrics, "splitrt_tail_deadletter_reassembly_full_total")).isEqualTo(1);
      assertThat(metric(metrics, "splitrt_tail_reassembly_bytes")).isEqualTo(2L * frameBytes);
      assertThat(link.stats().outboxMessages()).isEqualTo(1);
    }
  }

  @Test
  void anIncompleteSetIsDeadLetteredAsChunkTimeoutAndFreesItsBytes() throws Exception {
    MetricsRegistry metrics = new MetricsRegistry();
    try (MqttLink link = offlineLink(); TailRunner tail = runner(link, metrics, 32L << 20, 16, Duration.ofSeconds(1))) {
      tail.onMessage(topic, chunks(1).get(0));
      tail.onMessage(topic, chunks(2).get(1));
      assertThat(tail.awaitIdle(10_000)).isTrue();
      assertThat(metric(metrics, "splitrt_tail_reassembly_bytes")).isPositive();
      await().atMost(Duration.ofSeconds(10)).until(() -> metric(metrics, "splitrt_tail_deadletter_chunk_timeout_total") == 2);
      assertThat(metric(metrics, "splitrt_tail_reassembly_bytes")).isZero();
      assertThat(metric(metrics, "splitrt_tail_deadletter_total")).isEqualTo(2);
      assertThat(link.stats().outboxMessages()).isEqualTo(2);
      assertThat(tail.stats().published()).isZero();
    }
  }
}

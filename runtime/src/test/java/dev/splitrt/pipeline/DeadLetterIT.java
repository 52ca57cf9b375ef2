package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.codec.Granularity;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad features reach a real tail runner through a real broker: each lands on the dead-letter topic
 * with its reason, is counted, and the runner keeps serving good features.
 */
class DeadLetterIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final String FLEET = "dl";
  private static final String DEVICE = "cam-dl";

  @Test
  void everyKindOfBadFeatureIsDeadLetteredAndTheRunnerKeepsGoing(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    ReferenceVector ref = ReferenceVector.load(model).get(0);
    String modelId = model.manifest().id();
    int[] shape = model.manifest().head().output().dims();
    FeatureEncoder encoder = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), shape);
    FloatBuffer features = FloatBuffer.wrap(ref.headOutput());
    byte[] good = encoder.encode(new FrameHeader(DEVICE, modelId, model.headSha256(), 1, 0, 224, 224), features);

    byte[] otherHead = model.headSha256().clone();
    otherHead[0] ^= 1;
    Map<String, byte[]> bad = new java.util.LinkedHashMap<>();
    bad.put("truncated", Arrays.copyOf(good, good.length / 2));
    byte[] magic = good.clone();
    magic[0] = 'X';
    bad.put("bad_magic", magic);
    bad.put("too_large", withCrc(forgeDims(good, DEVICE.length(), modelId.length(), new int[] {1, 65535, 65535, 65535})));
    byte[] crc = good.clone();
    crc[good.length / 2] ^= 0x5a;
    bad.put("crc_mismatch", crc);
    bad.put("head_mismatch", encoder.encode(new FrameHeader(DEVICE, modelId, otherHead, 2, 0, 224, 224), features));

    try (Mosquitto broker = Mosquitto.start(dir);
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(broker.url(), "dl-tail"), null);
         MqttLink client = MqttLink.start(MqttSettings.defaults(broker.url(), "dl-client"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "dl-tail", "dl-tail", 1, 0, false, 16), List.of(model),
             Backends.byName("onnxruntime").orElseThrow(), tailLink, new MetricsRegistry())) {
      assertThat(client.awaitConnected(Duration.ofSeconds(10))).isTrue();
      assertThat(tailLink.awaitConnected(Duration.ofSeconds(10))).isTrue();
      Map<String, JsonNode> letters = new ConcurrentHashMap<>();
      ObjectMapper json = new ObjectMapper();
      client.subscribe(Topics.deadLetter(FLEET), 1, (t, p) -> {
        JsonNode n = json.readTree(p);
        letters.put(n.get("reason").asText(), n);
      });
      ResultCollector results = ResultCollector.attach(client, FLEET);
      Thread.sleep(300);
      String topic = Topics.features(FLEET, DEVICE, modelId);
      for (byte[] payload : bad.values()) client.publish(topic, payload, 1, false).get();
      // A frame of a model this group does not serve, on its own topic.
      byte[] unknown = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), shape)
          .encode(new FrameHeader(DEVICE, "no-such-model", model.headSha256(), 3, 0, 224, 224), features);
      client.publish(Topics.features(FLEET, DEVICE, "no-such-model"), unknown, 1, false).get();
      client.publish(topic, good, 1, false).get();

      assertThat(results.awaitCount(1, 20_000)).as("the good frame after the bad ones still gets its result").isTrue();
      long deadline = System.currentTimeMillis() + 10_000;
      while (letters.size() < bad.size() + 1 && System.currentTimeMillis() < deadline) Thread.sleep(20);
      System.out.println("dead letters: " + letters.keySet());
      assertThat(letters.keySet()).containsAll(bad.keySet()).contains("unknown_model");
      assertThat(letters.get("too_large").get("detail").asText()).contains("65535");
      assertThat(letters.get("head_mismatch").get("detail").asText()).contains(model.manifest().head().sha256());
      assertThat(letters.get("unknown_model").get("detail").asText()).contains("no-such-model").contains(modelId);
      assertThat(tail.stats().deadLettered()).isEqualTo(bad.size() + 1);
      ResultCollector.Result r = results.results().get(0);
      assertThat(r.sequence()).isEqualTo(1);
      int expected = argmax(ref.tailOutput());
      assertThat(((Classification) r.prediction()).topK().get(0).label()).isEqualTo(expected);
    }
  }

  /** Rewrites the dims of a rank-4 message (layout: runtime/docs/feature-frame-v1.md §2). */
  private static byte[] forgeDims(byte[] message, int deviceIdLength, int modelIdLength, int[] dims) {
    byte[] m = message.clone();
    int a = 8 + deviceIdLength + modelIdLength;
    int dimsOffset = a + 58;
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
    for (int k = 0; k < dims.length; k++) b.putInt(dimsOffset + 4 * k, dims[k]);
    return m;
  }

  /** Recomputes the trailing CRC-32C, so the forged header is what the decoder must catch. */
  private static byte[] withCrc(byte[] m) {
    CRC32C crc = new CRC32C();
    crc.update(m, 0, m.length - 4);
    ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putInt(m.length - 4, (int) crc.getValue());
    return m;
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
  }
}

package dev.splitrt.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

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

  /**
   * Issue 12 (bounded work per message): a device flooding junk gets each message dead-lettered and
   * counted, but not one WARN line each. {@value #FLOOD} CRC-broken and {@value #FLOOD} bad-magic frames
   * give at most one line per reason per {@link TailRunner#DEAD_LETTER_LOG_INTERVAL_S} s, while
   * {@code splitrt_tail_deadletter_total} and the per-reason counters count all of them; the first line
   * after the interval says how many were not logged and which counter has them.
   */
  @Test
  void aFloodOfJunkIsCountedInFullButLoggedOncePerReasonPerInterval(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    LoadedModel model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    ReferenceVector ref = ReferenceVector.load(model).get(0);
    String modelId = model.manifest().id();
    byte[] good = new FeatureEncoder(new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), model.manifest().head().output().dims())
        .encode(new FrameHeader(DEVICE, modelId, model.headSha256(), 1, 0, 224, 224), FloatBuffer.wrap(ref.headOutput()));
    byte[] crc = good.clone();
    crc[good.length / 2] ^= 0x5a;
    byte[] magic = good.clone();
    magic[0] = 'X';

    Logger tailLog = (Logger) LoggerFactory.getLogger(TailRunner.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    tailLog.addAppender(lines);
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto broker = Mosquitto.start(dir);
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(broker.url(), "dl-tail"), null);
         MqttLink client = MqttLink.start(MqttSettings.defaults(broker.url(), "dl-client"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "dl-tail", "dl-tail", 1, 0, false, 16), List.of(model),
             Backends.byName("onnxruntime").orElseThrow(), tailLink, metrics)) {
      assertThat(client.awaitConnected(Duration.ofSeconds(10))).isTrue();
      assertThat(tailLink.awaitConnected(Duration.ofSeconds(10))).isTrue();
      AtomicInteger letters = new AtomicInteger();
      client.subscribe(Topics.deadLetter(FLEET), 1, (t, p) -> letters.incrementAndGet());
      Thread.sleep(300);
      String topic = Topics.features(FLEET, DEVICE, modelId);
      long start = System.nanoTime();
      List<CompletableFuture<Void>> sent = new java.util.ArrayList<>();
      for (int k = 0; k < FLOOD; k++) {
        sent.add(client.publish(topic, crc, 1, false));
        sent.add(client.publish(topic, magic, 1, false));
      }
      CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get();
      long deadline = System.currentTimeMillis() + 60_000;
      while (tail.stats().deadLettered() < 2 * FLOOD && System.currentTimeMillis() < deadline) Thread.sleep(20);
      double floodSeconds = (System.nanoTime() - start) / 1e9;
      assertThat(tail.stats().deadLettered()).as("every junk frame is dead-lettered").isEqualTo(2 * FLOOD);
      List<String> warned = warnings(lines);
      long allowed = 1 + (long) Math.floor(floodSeconds / TailRunner.DEAD_LETTER_LOG_INTERVAL_S);
      System.out.printf("junk flood: %d frames dead-lettered in %.1f s, %d WARN lines (at most %d per reason allowed)%n", 2 * FLOOD,
          floodSeconds, warned.size(), allowed);
      assertThat(warned.stream().filter(l -> l.contains(": crc_mismatch: ")).count()).isBetween(1L, allowed);
      assertThat(warned.stream().filter(l -> l.contains(": bad_magic: ")).count()).isBetween(1L, allowed);
      assertThat(warned).hasSizeLessThanOrEqualTo((int) (2 * allowed));
      String text = metrics.prometheusText();
      assertThat(text).contains("\nsplitrt_tail_deadletter_total " + 2 * FLOOD + "\n")
          .contains("\nsplitrt_tail_deadletter_crc_mismatch_total " + FLOOD + "\n")
          .contains("\nsplitrt_tail_deadletter_bad_magic_total " + FLOOD + "\n");

      // One more after the interval since the last crc_mismatch line: its line carries the count of those not
      // logged since; over all crc_mismatch lines, lines plus the counts they report are every such frame.
      long lastCrcLine = crcLines(lines).get(crcLines(lines).size() - 1).getTimeStamp();
      Thread.sleep(Math.max(0, lastCrcLine + TailRunner.DEAD_LETTER_LOG_INTERVAL_S * 1000L + 500 - System.currentTimeMillis()));
      int before = crcLines(lines).size();
      client.publish(topic, crc, 1, false).get();
      deadline = System.currentTimeMillis() + 10_000;
      while (crcLines(lines).size() == before && System.currentTimeMillis() < deadline) Thread.sleep(20);
      List<String> crcText = crcLines(lines).stream().map(ILoggingEvent::getFormattedMessage).toList();
      System.out.println("last crc_mismatch line: " + crcText.get(crcText.size() - 1));
      assertThat(crcText).hasSize(before + 1);
      assertThat(crcText.get(before)).contains(" more 'crc_mismatch' in the last " + TailRunner.DEAD_LETTER_LOG_INTERVAL_S + " s not logged; see "
          + "splitrt_tail_deadletter_crc_mismatch_total");
      long reported = 0;
      for (String l : crcText) {
        java.util.regex.Matcher n = java.util.regex.Pattern.compile("\\((\\d+) more 'crc_mismatch'").matcher(l);
        if (n.find()) reported += Long.parseLong(n.group(1));
      }
      assertThat(crcText.size() + reported).as("crc_mismatch lines plus the suppressed counts they report").isEqualTo(FLOOD + 1);
      deadline = System.currentTimeMillis() + 10_000;
      while (letters.get() < 2 * FLOOD + 1 && System.currentTimeMillis() < deadline) Thread.sleep(20);
      assertThat(letters.get()).as("each one is still on the dead-letter topic").isEqualTo(2 * FLOOD + 1);
    } finally {
      tailLog.detachAppender(lines);
    }
  }

  private static final int FLOOD = 500;

  /** The dead-letter WARN lines captured so far (the appender appends under its own lock, from the tail's workers). */
  private static List<String> warnings(ListAppender<ILoggingEvent> lines) {
    synchronized (lines) {
      return lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN && e.getFormattedMessage().contains("dead-lettered message")).map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  private static List<ILoggingEvent> crcLines(ListAppender<ILoggingEvent> lines) {
    synchronized (lines) {
      return lines.list.stream().filter(e -> e.getFormattedMessage().contains(": crc_mismatch: ")).toList();
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

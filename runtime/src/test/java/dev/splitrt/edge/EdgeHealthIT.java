package dev.splitrt.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.infer.TensorSpec;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.metrics.MetricsServer;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.vision.Frame;
import dev.splitrt.vision.FrameSource;
import dev.splitrt.vision.FrameSources;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Edge /health over real HTTP, with a real head, a real broker: healthy while everything moves, and
 * 503 naming the part when the camera stalls, when the head worker stops making progress, and when the
 * MQTT sender cannot get anything acknowledged (a frozen broker).
 */
class EdgeHealthIT {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));
  private static final Duration STALL = Duration.ofSeconds(2);
  private static final Duration T = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  static LoadedModel model;
  static InferenceBackend ort;

  @BeforeAll
  static void setUp() throws Exception {
    Mosquitto.assumeAvailable();
    model = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    ort = Backends.byName("onnxruntime").orElseThrow();
  }

  /** A live source that delivers {@code frames} frames, then blocks like an unplugged camera. */
  private static final class StallingSource implements FrameSource {
    private final FrameSource inner;
    private final int frames;
    private final AtomicInteger given = new AtomicInteger();

    StallingSource(FrameSource inner, int frames) {
      this.inner = inner;
      this.frames = frames;
    }

    @Override
    public Optional<Frame> next() throws IOException {
      if (given.incrementAndGet() > frames) {
        try {
          Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", e);
        }
      }
      return inner.next();
    }

    @Override
    public boolean live() {
      return true;
    }

    @Override
    public String describe() {
      return "stalling " + inner.describe();
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  /** ONNX Runtime, except that {@code run()} blocks after {@code runs} runs (a hung accelerator). */
  private static InferenceBackend hangingAfter(int runs, CountDownLatch release) {
    return new InferenceBackend() {
      @Override
      public String name() {
        return "hanging";
      }

      @Override
      public Optional<String> unavailableReason() {
        return Optional.empty();
      }

      @Override
      public InferenceSession open(ModelPartRef part, SessionOptions options) throws InferenceException {
        InferenceSession real = ort.open(part, options);
        AtomicInteger n = new AtomicInteger();
        return new InferenceSession() {
          @Override
          public TensorSpec inputSpec() {
            return real.inputSpec();
          }

          @Override
          public TensorSpec outputSpec() {
            return real.outputSpec();
          }

          @Override
          public FloatBuffer input() {
            return real.input();
          }

          @Override
          public FloatBuffer run() throws InferenceException {
            if (n.incrementAndGet() > runs) {
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            return real.run();
          }

          @Override
          public String backendName() {
            return real.backendName();
          }

          @Override
          public void close() {
            real.close();
          }
        };
      }
    };
  }

  private static EdgeSettings settings() {
    return new EdgeSettings("cam-h", "h", 0, 4, 1, new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE));
  }

  private static FrameSource paced() throws IOException {
    return FrameSources.open(model.resolve("eval") + "?fps=20&loop=0");
  }

  private record Reply(int status, JsonNode body) {}

  private static Reply get(MetricsServer server) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health")).build(), HttpResponse.BodyHandlers.ofString());
    return new Reply(r.statusCode(), JSON.readTree(r.body()));
  }

  private interface Check {
    void run(Mosquitto broker, EdgeDaemon edge, MetricsServer server) throws Exception;
  }

  private void withEdge(FrameSource source, InferenceBackend backend, Check check) throws Exception {
    EdgeConfig defaults = new EdgeConfig("cam-h", "h", "fs-bottlefit-cls", null, "x86-64-cpu", null, "x", null, null, 9101, null, null, null);
    MetricsRegistry metrics = new MetricsRegistry();
    try (Mosquitto broker = Mosquitto.start(dir);
         MqttLink link = MqttLink.start(MqttSettings.defaults(broker.url(), "edge-h").withStallTimeout(STALL), null, metrics);
         EdgeDaemon edge = EdgeDaemon.create(settings(), model, backend, source, link, metrics);
         MetricsServer server = MetricsServer.start(defaults.metricsBindAddress(), 0, metrics, () -> edge.health(STALL))) {
      assertThat(server.address().isLoopbackAddress()).as("metrics and health bind 127.0.0.1 by default").isTrue();
      assertThat(link.awaitConnected(T)).isTrue();
      edge.start();
      await().atMost(T).until(() -> edge.stats().acked() >= 3);
      Reply ok = get(server);
      assertThat(ok.status()).as(ok.body().toString()).isEqualTo(200);
      assertThat(ok.body().get("healthy").asBoolean()).isTrue();
      check.run(broker, edge, server);
    }
  }

  @Test
  void aStalledCameraIsUnhealthy() throws Exception {
    withEdge(new StallingSource(paced(), 20), ort, (broker, edge, server) -> {
      await().atMost(T).until(() -> get(server).status() == 503);
      Reply r = get(server);
      assertThat(r.body().get("capture").get("ok").asBoolean()).as(r.body().toString()).isFalse();
      assertThat(r.body().get("head").get("ok").asBoolean()).isTrue();
      assertThat(r.body().get("mqtt").get("ok").asBoolean()).isTrue();
    });
  }

  @Test
  void aHeadWorkerThatMakesNoProgressIsUnhealthy() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try {
      withEdge(paced(), hangingAfter(10, release), (broker, edge, server) -> {
        await().atMost(T).until(() -> get(server).status() == 503);
        Reply r = get(server);
        assertThat(r.body().get("head").get("ok").asBoolean()).as(r.body().toString()).isFalse();
        assertThat(r.body().get("capture").get("ok").asBoolean()).as("a live source keeps capturing (and dropping)").isTrue();
        release.countDown();
        await().atMost(T).until(() -> get(server).status() == 200);
      });
    } finally {
      release.countDown();
    }
  }

  @Test
  void anMqttSenderThatGetsNothingAcknowledgedIsUnhealthy() throws Exception {
    withEdge(paced(), ort, (broker, edge, server) -> {
      broker.pause();
      try {
        await().atMost(T).until(() -> get(server).status() == 503);
        Reply r = get(server);
        assertThat(r.body().get("mqtt").get("ok").asBoolean()).as(r.body().toString()).isFalse();
        assertThat(r.body().get("capture").get("ok").asBoolean()).isTrue();
      } finally {
        broker.resume();
      }
      await().atMost(T).until(() -> get(server).status() == 200);
    });
  }
}

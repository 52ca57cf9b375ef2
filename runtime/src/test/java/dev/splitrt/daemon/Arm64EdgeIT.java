package dev.splitrt.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.splitrt.codec.FeatureDecoder;
import dev.splitrt.codec.FeatureFrame;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfiles;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.DeviceAssembly;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import dev.splitrt.vision.FrameSources;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, item 3: the linux-arm64 device assembly's edge daemon runs as an aarch64 process
 * (qemu-aarch64-static over Debian's arm64 libraries; the JVM, ONNX Runtime, OpenCV and zstd natives
 * are the linux-arm64 builds in the assembly), publishes to a loopback Mosquitto, and an x86-64 tail
 * runner in this JVM answers. The same frames go through an x86-64 edge in this JVM (same head,
 * profile and codec). Per sequence: both features decode, top-1 is equal, and the bottleneck values
 * agree within the tolerance below. Emulation proves the arm64 code paths and numerics, not timing,
 * TensorRT or CUDA (runtime/docs/device-assembly.md).
 */
class Arm64EdgeIT {
  private static final String FLEET = "arm";
  private static final String MODEL = "fs-bottlefit-cls";
  private static final int FRAMES = 8;
  /**
   * Values whose code is the same on both machines may differ only in the float range parameters
   * (ONNX Runtime's arm64 and x86-64 kernels round differently): at most this many quantization steps.
   */
  private static final double SAME_CODE_TOLERANCE_STEPS = 1e-3;
  /** A raw value within rounding of a code boundary may land on the neighbouring code: at most this share of values. */
  private static final double MAX_NEIGHBOUR_CODE_SHARE = 1e-3;

  @Test
  void arm64EdgeUnderQemuMatchesTheX86EdgeThroughMosquittoAndAnX86Tail(@TempDir Path dir) throws Exception {
    Mosquitto.assumeAvailable();
    Path sysroot = DeviceAssembly.assumeArm64Emulation();
    DeviceAssembly assembly = DeviceAssembly.build("linux-arm64");
    Path frames = Files.createDirectories(dir.resolve("frames"));
    LoadedModel full = new ModelRegistry(DeviceAssembly.REPO.resolve("models")).load(MODEL);
    try (var images = Files.list(full.resolve("eval"))) {
      for (Path p : images.filter(p -> p.toString().endsWith(".jpg")).sorted().limit(FRAMES).toList()) {
        Files.copy(p, frames.resolve(p.getFileName()));
      }
    }
    InferenceBackend ort = Backends.byName("onnxruntime").orElseThrow();
    Map<String, FeatureFrame> features = new ConcurrentHashMap<>();
    List<String> undecodable = new java.util.concurrent.CopyOnWriteArrayList<>();
    FeatureDecoder decoder = new FeatureDecoder(1 << 20);
    try (Mosquitto broker = Mosquitto.start(dir.resolve("broker"));
         MqttLink tailLink = MqttLink.start(settings(broker.url(), "tail-x86"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "tails", "tail-x86", 1, 0, false, 16), List.of(full), ort,
             tailLink, new MetricsRegistry());
         MqttLink watch = MqttLink.start(settings(broker.url(), "watch"), null)) {
      assertThat(tailLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
      assertThat(watch.awaitConnected(Duration.ofSeconds(15))).isTrue();
      ResultCollector results = ResultCollector.attach(watch, FLEET);
      watch.subscribe(Topics.fleetFeatures(FLEET), 1, (topic, payload) -> {
        try {
          FeatureFrame f = decoder.decode(payload);
          features.put(f.header().deviceId() + "/" + f.header().sequence(), f);
        } catch (Exception e) {
          undecodable.add(topic + ": " + e.getMessage());
        }
      });
      Thread.sleep(300); // subscriptions settle on the broker

      // The aarch64 edge: the assembly's own launcher and head-only model, the JVM under qemu.
      Path armConfig = config(dir, "arm-01", assembly.dir, frames, broker.url());
      long t0 = System.nanoTime();
      ProcessBuilder pb = new ProcessBuilder(assembly.dir.resolve("bin/splitrt-edge").toString(), "--config", armConfig.toString(),
          "--drain-seconds", "30").redirectErrorStream(true).redirectOutput(dir.resolve("arm-edge.log").toFile());
      pb.environment().put("SPLITRT_EXEC_PREFIX", DeviceAssembly.QEMU + " -L " + sysroot);
      pb.environment().put("QEMU_CPU", "cortex-a76");
      pb.environment().put("SPLITRT_NATIVE_CACHE", dir.resolve("native-arm64").toString());
      pb.environment().put("SPLITRT_JAVA_OPTS", "-Dorg.bytedeco.javacpp.cachedir=" + dir.resolve("javacpp-arm64"));
      Process arm = pb.start();

      // The x86-64 edge on the same frames, config and head-only model (in this JVM, ONNX Runtime CPU).
      Path x86Config = config(dir, "x86-01", assembly.dir, frames, broker.url());
      EdgeConfig c = EdgeConfig.read(x86Config);
      LoadedModel head = new ModelRegistry(c.modelsDir()).loadHead(MODEL);
      try (MqttLink edgeLink = MqttLink.start(settings(broker.url(), "edge-x86-01"), EdgeDaemon.will(FLEET, "x86-01"));
           EdgeDaemon edge = EdgeDaemon.create(EdgeDaemon.settings(c, new DeviceProfiles(c.profilesDir()).load(c.profile()), head), head,
               ort, FrameSources.open(c.source()), edgeLink, new MetricsRegistry())) {
        assertThat(edgeLink.awaitConnected(Duration.ofSeconds(15))).isTrue();
        edge.start();
        assertThat(edge.awaitSourceDone(Duration.ofSeconds(60))).isTrue();
        assertThat(edge.stop(Duration.ofSeconds(30))).isTrue();
      }

      boolean exited = arm.waitFor(240, TimeUnit.SECONDS);
      String log = Files.readString(dir.resolve("arm-edge.log"));
      if (!exited) arm.destroyForcibly();
      System.out.printf("arm64 edge under qemu: exit %s after %.1f s%n%s", exited ? arm.exitValue() : "none (killed)",
          (System.nanoTime() - t0) / 1e9, log);
      assertThat(exited).as("the aarch64 edge ends with its finite source").isTrue();
      assertThat(arm.exitValue()).as(log).isZero();
      assertThat(log).contains("on onnxruntime-cpu", "captured " + FRAMES + ", accepted " + FRAMES + ", acked " + FRAMES);
      assertThat(results.awaitCount(2 * FRAMES, 60_000)).as("the x86-64 tail answers both edges").isTrue();
      assertThat(undecodable).as("every feature decodes").isEmpty();

      long n = 0, differ = 0, neighbour = 0;
      double maxSameCodeSteps = 0;
      for (long s = 0; s < FRAMES; s++) {
        FeatureFrame a = features.get("arm-01/" + s);
        FeatureFrame x = features.get("x86-01/" + s);
        assertThat(a).as("arm64 feature %d", s).isNotNull();
        assertThat(x).as("x86-64 feature %d", s).isNotNull();
        assertThat(a.shape()).isEqualTo(x.shape());
        assertThat(a.header().headSha256()).isEqualTo(x.header().headSha256());
        float[] va = values(a);
        float[] vx = values(x);
        float step = Float.MAX_VALUE;
        for (float sc : x.scales()) if (sc > 0) step = Math.min(step, sc);
        for (int i = 0; i < va.length; i++) {
          double d = Math.abs(va[i] - vx[i]);
          n++;
          if (d > 0) differ++;
          if (d > 0.5 * step) neighbour++;
          else maxSameCodeSteps = Math.max(maxSameCodeSteps, d / step);
        }
        assertThat(top1(results, "arm-01", s)).as("top-1 of sequence %d", s).isEqualTo(top1(results, "x86-01", s));
      }
      System.out.printf("arm64 vs x86-64 bottleneck: %,d of %,d values differ; %d on a neighbouring code; same-code differences "
          + "at most %.2e of a quantization step%n", differ, n, neighbour, maxSameCodeSteps);
      assertThat(maxSameCodeSteps).isLessThanOrEqualTo(SAME_CODE_TOLERANCE_STEPS);
      assertThat((double) neighbour / n).isLessThanOrEqualTo(MAX_NEIGHBOUR_CODE_SHARE);
    }
  }

  private static int top1(ResultCollector results, String device, long sequence) {
    ResultCollector.Result r = results.results().stream().filter(x -> x.device().equals(device) && x.sequence() == sequence).findFirst()
        .orElseThrow(() -> new AssertionError("no result for " + device + " sequence " + sequence));
    return ((Classification) r.prediction()).topK().get(0).label();
  }

  private static float[] values(FeatureFrame f) {
    FloatBuffer b = FloatBuffer.allocate(f.elementCount());
    f.dequantizeInto(b);
    return b.array();
  }

  private static Path config(Path dir, String device, Path assembly, Path frames, String url) throws Exception {
    Path p = dir.resolve(device + ".yaml");
    Files.writeString(p, "device_id: " + device + "\nfleet: " + FLEET + "\nmodel: " + MODEL + "\nmodels_dir: " + assembly.resolve("models")
        + "\nprofile: jetson-orin-nano-8gb\nprofiles_dir: " + assembly.resolve("profiles") + "\nsource: 'dir:" + frames + "'\n"
        + "state_dir: " + dir.resolve(device + "-state") + "\n"
        + "broker:\n  url: '" + url + "'\n");
    return p;
  }

  private static MqttSettings settings(String url, String clientId) {
    MqttSettings d = MqttSettings.defaults(url, clientId);
    return new MqttSettings(d.url(), d.clientId(), null, null, null, d.keepAliveSeconds(), Duration.ofMillis(100), Duration.ofMillis(1_000),
        d.maxInflight(), d.outboxBytes());
  }
}

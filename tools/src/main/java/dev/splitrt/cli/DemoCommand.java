package dev.splitrt.cli;

import dev.splitrt.daemon.Daemons;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Granularity;
import dev.splitrt.config.BrokerConfig;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.edge.Delivery;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.edge.EdgeStats;
import dev.splitrt.eval.EvalLabels;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import dev.splitrt.spool.Spool;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.transport.EmbeddedHiveMq;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Run the whole split pipeline in one process: an embedded MQTT broker (HiveMQ CE) or --broker,",
        "a tail runner and an edge daemon over the zoo's evaluation frames; prints a summary (and --json)."})
final class DemoCommand implements Callable<Integer> {
  private static final String FLEET = "demo";
  private static final String DEVICE = "demo-cam";

  @Option(names = "--model", defaultValue = "fs-bottlefit-cls", description = "Model id (default ${DEFAULT-VALUE}; fs-leyolo-nano-det for the detector).")
  String modelId;

  @Option(names = "--frames", description = "Frames to run (default: the evaluation set once; more loops over it).")
  Integer frames;

  @Option(names = "--broker", paramLabel = "URL", description = "Use this broker (tcp://host:1883) instead of the embedded one.")
  String brokerUrl;

  @Option(names = "--source", paramLabel = "URI", description = "Frame source (default: the model's demo video, else its eval images). Accuracy is measured only on the default source.")
  String sourceUri;

  @Option(names = "--fps", description = "Pace the source like a camera at this rate (frames are then dropped before the head if the pipeline falls behind). Default: as fast as the pipeline goes, nothing dropped.")
  Double fps;

  @Option(names = "--profile", defaultValue = "x86-64-cpu", description = "Device profile of the edge (default ${DEFAULT-VALUE}).")
  String profileName;

  @Option(names = "--tail-workers", defaultValue = "1", description = "Tail worker threads (default ${DEFAULT-VALUE}).")
  int tailWorkers;

  @Option(names = "--out", paramLabel = "DIR", description = "Where the detector's annotated PNG frames go (default: splitrt-demo/ under the working directory).")
  Path out;

  @Option(names = "--json", description = "End with one line of JSON holding the summary.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    ModelRegistry registry = new ModelRegistry(RepoPaths.models());
    LoadedModel model = registry.load(modelId);
    ModelManifest mf = model.manifest();
    DeviceProfile profile = new DeviceProfiles(RepoPaths.profiles()).load(profileName);
    InferenceBackend backend = Backends.select(profile.backend());
    boolean detection = mf.task() == ModelManifest.Task.DETECTION;

    EvalLabels labels = EvalLabels.read(model.resolve(mf.eval().labels()));
    boolean measured = sourceUri == null;
    String base = sourceUri != null ? sourceUri
        : mf.eval().video() != null ? model.resolve(mf.eval().video()).toString() : model.resolve(mf.eval().images()).toString();
    int setSize = labels.items().size();
    int total = frames != null ? frames : setSize;
    if (total < 1) throw new Errors.UserError("--frames must be >= 1");
    List<String> options = new ArrayList<>();
    if (measured && total > setSize) options.add("loop=" + ((total + setSize - 1) / setSize));
    if (fps != null) options.add("fps=" + fps);
    String uri = options.isEmpty() ? base : base + (base.contains("?") ? "&" : "?") + String.join("&", options);

    Path work = Files.createTempDirectory("splitrt-demo");
    EmbeddedHiveMq broker = null;
    long wallStart = System.nanoTime();
    try {
      String url = brokerUrl;
      if (url == null) {
        broker = EmbeddedHiveMq.start(0, work.resolve("hivemq"));
        url = broker.url();
      }
      MetricsRegistry metrics = new MetricsRegistry();
      BrokerConfig bc = BrokerConfig.of(url);
      // The device's default: the spool on (here in the demo's temporary folder, gone after the run).
      EdgeConfig ec = new EdgeConfig(DEVICE, FLEET, modelId, null, profileName, null, uri, bc, null, null, null, null, null, null,
          work.resolve("state"));
      ec.validate("demo edge config");
      EdgeSettings es = EdgeDaemon.settings(ec, profile, model);
      // Unique client ids: two demos on one external broker must not take over each other's connections.
      String run = Long.toHexString(System.nanoTime() & 0xffffff);
      TailRunner.Settings ts = new TailRunner.Settings(FLEET, "demo-tail", "demo-tail", tailWorkers, 0, true, 256);
      try (MqttLink tailLink = MqttLink.start(Daemons.mqtt(bc, "demo-tail-" + run, 250, 60), null);
           MqttLink edgeLink = MqttLink.start(Daemons.mqtt(bc, "demo-edge-" + run, 1000, 0), EdgeDaemon.will(FLEET, DEVICE));
           MqttLink resultLink = MqttLink.start(Daemons.mqtt(bc, "demo-results-" + run, 250, 60), null)) {
        for (MqttLink l : List.of(tailLink, edgeLink, resultLink)) {
          if (!l.awaitConnected(Duration.ofSeconds(15))) throw new Errors.UserError("cannot reach the broker at " + url + " within 15 s; check --broker");
        }
        ResultCollector results = ResultCollector.attach(resultLink, FLEET);
        EdgeConfig.SpoolConfig sc = ec.deliverySpool();
        try (TailRunner tail = TailRunner.start(ts, List.of(model), backend, tailLink, metrics);
             Spool spool = Spool.open(sc.settings());
             Delivery delivery = new Delivery(spool, edgeLink, new Delivery.Settings(sc.windowOrDefault(), sc.resultTimeout(),
                 sc.resultTimeoutMax(), sc.healthMaxWait(), ec.chunkingEnabled()), FLEET, DEVICE, modelId, metrics);
             JpegSizeSource source = new JpegSizeSource(FrameSources.open(uri), total);
             EdgeDaemon edge = EdgeDaemon.create(es, model, backend, source, edgeLink, delivery, metrics)) {
          delivery.start();
          Thread.sleep(300); // let the subscriptions settle on the broker before the first feature
          long runStart = System.nanoTime();
          edge.start();
          try (ProgressBar bar = new ProgressBarBuilder().setTaskName(modelId).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
              .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(250).build()) {
            while (!edge.awaitSourceDone(Duration.ofMillis(250))) bar.stepTo(results.count());
            edge.stop(Duration.ofSeconds(30));
            EdgeStats s = edge.stats();
            results.awaitCount((int) s.accepted(), 30_000); // stop() waited for the results at the device
            tail.awaitIdle(10_000);
            bar.stepTo(results.count());
          }
          double runSeconds = (System.nanoTime() - runStart) / 1e9;
          return report(model, labels, measured, edge, results, metrics, source, runSeconds, url, broker != null);
        }
      }
    } finally {
      if (broker != null) broker.close();
      deleteQuietly(work);
      if (!json) System.err.printf("demo: %.1f s in all%n", (System.nanoTime() - wallStart) / 1e9);
    }
  }

  private int report(LoadedModel model, EvalLabels labels, boolean measured, EdgeDaemon edge, ResultCollector results,
      MetricsRegistry metrics, JpegSizeSource source, double seconds, String url, boolean embedded) throws Exception {
    ModelManifest mf = model.manifest();
    EdgeStats s = edge.stats();
    List<ResultCollector.Result> rs = results.results();
    long delivered = rs.size();
    long lost = s.accepted() - delivered;
    Double accuracy = null;
    Double map50 = null;
    Double map5095 = null;
    if (measured) {
      ResultCollector.Score score = results.score(labels);
      if (mf.task() == ModelManifest.Task.CLASSIFICATION) {
        accuracy = score.top1();
      } else {
        map50 = score.map50();
        map5095 = score.map50to95();
        writeAnnotated(model, labels, rs);
      }
    }
    CodecSpec codec = edge.settings().codec();
    String[] referenceName = new String[1];
    Double reference = referenceFor(mf, codec, referenceName);
    LatencyHistogram.Snapshot latency = results.latency();
    double head = metrics.histogram("splitrt_edge_head_seconds", "").snapshot().p50();
    double tailMs = metrics.histogram("splitrt_tail_inference_seconds", "").snapshot().p50();
    double bytesPerFrame = s.accepted() == 0 ? 0 : (double) s.featureBytes() / s.accepted();
    String backendName = edge.backendName();

    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("model", mf.id()).put("frames", s.captured()).put("delivered", delivered).put("lost", lost).put("dropped", s.dropped())
        .put("failed", s.failed()).put("duplicates", results.duplicates()).put("fps", round(delivered / seconds, 2));
    o.putObject("latency_ms").put("p50", round(latency.p50(), 2)).put("p95", round(latency.p95(), 2)).put("p99", round(latency.p99(), 2));
    o.put("head_ms", round(head, 3)).put("tail_ms", round(tailMs, 3));
    ObjectNode stages = o.putObject("stages_p50_ms");
    for (String st : List.of("edge_preprocess", "edge_head", "edge_encode", "edge_publish", "tail_decode", "tail_inference", "tail_postprocess")) {
      stages.put(st, round(metrics.histogram("splitrt_" + st + "_seconds", "").snapshot().p50(), 3));
    }
    o.put("bytes_per_frame", round(bytesPerFrame, 1)).put("jpeg_bytes_per_frame", round(source.meanJpegBytes(), 1))
        .put("raw_bytes_per_frame", mf.input().width() * mf.input().height() * 3);
    if (mf.task() == ModelManifest.Task.CLASSIFICATION) o.put("accuracy", accuracy);
    else o.put("map50", map50).put("map50_95", map5095);
    o.put("reference_accuracy", reference).put("reference_metric", referenceName[0])
        .put("broker", embedded ? "hivemq-ce-embedded " + url : url).put("backend", backendName)
        .put("codec", codec.label());

    String metricName = mf.task() == ModelManifest.Task.CLASSIFICATION ? "top-1 accuracy" : "mAP@0.5";
    Double measuredValue = mf.task() == ModelManifest.Task.CLASSIFICATION ? accuracy : map50;
    System.out.println();
    System.out.printf("SplitRT demo: %s on %s via %s%n", mf.id(), backendName, o.get("broker").asText());
    row("frames captured / delivered", s.captured() + " / " + delivered);
    row("lost / dropped / failed / duplicates", lost + " / " + s.dropped() + " / " + s.failed() + " / " + results.duplicates());
    row("throughput", String.format(Locale.ROOT, "%.1f frames/s", delivered / seconds));
    row("latency capture->result p50/p95/p99", String.format(Locale.ROOT, "%.1f / %.1f / %.1f ms", latency.p50(), latency.p95(), latency.p99()));
    row("head / tail inference p50", String.format(Locale.ROOT, "%.2f / %.2f ms", head, tailMs));
    row("bytes per frame: feature / JPEG q90 / raw", String.format(Locale.ROOT, "%.0f / %.0f / %d", bytesPerFrame, source.meanJpegBytes(),
        mf.input().width() * mf.input().height() * 3));
    row(metricName + " (card: " + (referenceName[0] == null ? "no figure for " + codec.label() : referenceName[0]) + ")",
        measuredValue == null ? "not measured (custom --source)"
        : String.format(Locale.ROOT, "%.2f %% (%s)", 100 * measuredValue, reference == null ? "n/a" : String.format(Locale.ROOT, "%.2f %%", 100 * reference)));
    if (mf.task() == ModelManifest.Task.DETECTION && measured) row("annotated frames", outDir().toString());
    if (json) System.out.println(o);
    return lost == 0 && s.failed() == 0 ? 0 : 1;
  }

  private Path outDir() {
    return out != null ? out : Path.of("splitrt-demo");
  }

  /** Draws the published detections (score >= the manifest's score_threshold) on the first frames. */
  private void writeAnnotated(LoadedModel model, EvalLabels labels, List<ResultCollector.Result> rs) throws java.io.IOException {
    Path dir = outDir();
    Files.createDirectories(dir);
    double threshold = model.manifest().postprocess().scoreThreshold();
    List<ResultCollector.Result> first = new ArrayList<>(rs.subList(0, Math.min(4, rs.size())));
    for (ResultCollector.Result r : first) {
      EvalLabels.Item item = labels.items().get((int) (r.sequence() % labels.items().size()));
      Path image = model.resolve(model.manifest().eval().images()).resolve(item.file());
      Annotator.drawDetections(image, (Detections) r.prediction(), threshold, dir.resolve(String.format("frame-%06d.png", r.sequence())));
    }
  }

  /**
   * The card's eval-subset figure for the codec the edge actually used: {@code metrics.default_codec}
   * when it is the manifest's default codec (measured by {@code splitrt eval}), {@code split_8bit} for
   * 8-bit per-tensor asymmetric (any entropy stage: lossless), otherwise none. {@code name[0]} gets its key.
   */
  static Double referenceFor(ModelManifest mf, CodecSpec codec, String[] name) {
    if (codec.equals(CodecSpec.of(mf.bottleneck().codec())) && metric(mf, "default_codec", "eval_subset") != null
        && codec.label().equals(String.valueOf(((Map<?, ?>) mf.metrics().get("default_codec")).get("codec")))) {
      name[0] = "metrics.default_codec.eval_subset, " + codec.label();
      return metric(mf, "default_codec", "eval_subset");
    }
    if (codec.bits() == 8 && codec.granularity() == Granularity.PER_TENSOR && !codec.symmetric()) {
      name[0] = "metrics.eval_subset.split_8bit";
      return metric(mf, "eval_subset", "split_8bit");
    }
    name[0] = null;
    return null;
  }

  @SuppressWarnings("unchecked")
  private static Double metric(ModelManifest mf, String group, String key) {
    if (mf.metrics() == null || !(mf.metrics().get(group) instanceof Map<?, ?> m)) return null;
    Object v = ((Map<String, Object>) m).get(key);
    return v instanceof Number n ? n.doubleValue() : null;
  }

  private static void row(String k, String v) {
    System.out.printf("  %-44s %s%n", k, v);
  }

  private static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  private static void deleteQuietly(Path dir) {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException ignored) {
      // A temp folder left behind is harmless.
    }
  }
}

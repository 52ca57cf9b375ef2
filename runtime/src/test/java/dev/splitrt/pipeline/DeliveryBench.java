package dev.splitrt.pipeline;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import dev.splitrt.edge.Delivery;
import dev.splitrt.edge.EdgeDaemon;
import dev.splitrt.edge.EdgeSettings;
import dev.splitrt.eval.ResultCollector;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.metrics.LatencyHistogram;
import dev.splitrt.metrics.MetricsRegistry;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.spool.Spool;
import dev.splitrt.spool.SpoolSettings;
import dev.splitrt.tail.TailRunner;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.vision.FrameSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A benchmark (not a test) of the cost of durability: the same edge → Mosquitto → tail run with the
 * spool and end-to-end acks off (in-memory outbox, PUBACK ends the edge's duty) and on (spool with
 * fsync interval 50 ms and always), paced at 30 fps and unpaced, one after another in one process.
 * Prints frames/s, p50/p95 capture→result and the spool's bytes and fsyncs per frame.
 * Run: {@code java -Dsplitrt.repo=$PWD -cp runtime/target/classes:runtime/target/test-classes:<deps>
 * dev.splitrt.pipeline.DeliveryBench [rounds]}.
 */
public final class DeliveryBench {
  private static final String FLEET = "bench";

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    Path repo = Path.of(System.getProperty("splitrt.repo", "."));
    LoadedModel model = new ModelRegistry(repo.resolve("models")).load("fs-bottlefit-cls");
    InferenceBackend backend = Backends.byName("onnxruntime").orElseThrow();
    Path dir = Files.createTempDirectory("delivery-bench");
    try (Mosquitto broker = Mosquitto.start(dir);
         MqttLink tailLink = MqttLink.start(MqttSettings.defaults(broker.url(), "bench-tail"), null);
         TailRunner tail = TailRunner.start(new TailRunner.Settings(FLEET, "bench", "bench-tail", 1, 0, false, 64),
             List.of(model), backend, tailLink, new MetricsRegistry())) {
      tailLink.awaitConnected(Duration.ofSeconds(15));
      int run = 0;
      for (int r = 0; r < rounds; r++) {
        for (String pace : new String[] {"?fps=30", ""}) {
          double[] off = one(broker, model, backend, pace, null, dir, run++);
          double[] on = one(broker, model, backend, pace, SpoolSettings.Fsync.INTERVAL, dir, run++);
          double[] always = one(broker, model, backend, pace, SpoolSettings.Fsync.ALWAYS, dir, run++);
          String label = pace.isEmpty() ? "unpaced" : "30 fps";
          System.out.printf("%s  off: %.1f frames/s, p50 %.2f ms | spool interval: %.1f frames/s (x%.3f), p50 %.2f ms "
                  + "(x%.3f), %.0f bytes and %.3f fsyncs per frame | spool always: %.1f frames/s (x%.3f), p50 %.2f ms "
                  + "(x%.3f), %.0f bytes and %.3f fsyncs per frame%n", label, off[0], off[1], on[0], on[0] / off[0], on[1],
              on[1] / off[1], on[3], on[4], always[0], always[0] / off[0], always[1], always[1] / off[1], always[3],
              always[4]);
        }
      }
    }
    System.exit(0); // Paho and the tail leave non-daemon threads behind after close
  }

  /** Returns frames/s, p50 ms, p95 ms, spool bytes/frame, fsyncs/frame. */
  private static double[] one(Mosquitto broker, LoadedModel model, InferenceBackend backend, String pace,
      SpoolSettings.Fsync fsync, Path dir, int run) throws Exception {
    String device = "bench-" + run;
    MetricsRegistry metrics = new MetricsRegistry();
    Spool spool = fsync == null ? null : Spool.open(new SpoolSettings(dir.resolve("spool-" + run), 64L << 20, 4L << 20,
        Duration.ofMinutes(10), fsync, Duration.ofMillis(50), SpoolSettings.FullPolicy.BLOCK));
    try (MqttLink results = MqttLink.start(MqttSettings.defaults(broker.url(), "bench-results-" + run), null);
         MqttLink link = MqttLink.start(MqttSettings.defaults(broker.url(), "edge-" + device), null);
         Delivery delivery = spool == null ? null : new Delivery(spool, link, Delivery.Settings.defaults(), FLEET, device,
             model.manifest().id(), metrics);
         EdgeDaemon edge = EdgeDaemon.create(new EdgeSettings(device, FLEET, 0, 8, 0,
                 new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE)), model, backend,
             FrameSources.open(model.resolve("eval") + pace), link, delivery, metrics)) {
      results.awaitConnected(Duration.ofSeconds(15));
      link.awaitConnected(Duration.ofSeconds(15));
      ResultCollector c = ResultCollector.attach(results, FLEET);
      if (delivery != null) delivery.start();
      Thread.sleep(300);
      long t0 = System.nanoTime();
      edge.start();
      edge.awaitSourceDone(Duration.ofSeconds(120));
      edge.stop(Duration.ofSeconds(60));
      long n = edge.stats().accepted();
      c.awaitCount((int) n, 60_000);
      double seconds = (System.nanoTime() - t0) / 1e9;
      LatencyHistogram.Snapshot s = c.latency();
      double bytes = spool == null ? 0 : spool.bytesWritten() / (double) n;
      double fsyncs = spool == null ? 0 : spool.fsyncs() / (double) n;
      double send = metrics.histogram("splitrt_edge_capture_to_send_seconds", "").snapshot().p50();
      double ack = metrics.histogram("splitrt_edge_capture_to_ack_seconds", "").snapshot().p50();
      double accept = metrics.histogram("splitrt_edge_publish_seconds", "").snapshot().p50();
      System.out.printf("  %s %s: p50 capture->send %.2f ms, capture->PUBACK %.2f ms, capture->result %.2f ms; "
              + "accept (spool append or outbox hand-off) %.3f ms%n", pace.isEmpty() ? "unpaced" : pace.substring(1),
          fsync == null ? "spool off" : "spool " + fsync.name().toLowerCase(java.util.Locale.ROOT), send, ack, s.p50(), accept);
      return new double[] {c.count() / seconds, s.p50(), s.p95(), bytes, fsyncs};
    } finally {
      if (spool != null) spool.close();
    }
  }
}

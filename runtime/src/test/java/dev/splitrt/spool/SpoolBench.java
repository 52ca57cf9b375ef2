package dev.splitrt.spool;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * A benchmark (not a test): the cost of the spool per feature under each fsync policy, paced at a
 * camera's rate. Prints bytes and fsyncs per feature and the append latency (p50, p99).
 * Run: {@code java -cp runtime/target/classes:runtime/target/test-classes:$(deps) dev.splitrt.spool.SpoolBench [dir] [fps] [frames] [bytes]}.
 */
public final class SpoolBench {
  public static void main(String[] args) throws Exception {
    Path base = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
    double fps = args.length > 1 ? Double.parseDouble(args[1]) : 30;
    int frames = args.length > 2 ? Integer.parseInt(args[2]) : 300;
    int size = args.length > 3 ? Integer.parseInt(args[3]) : 6404;
    String topic = "splitrt/v1/demo/jetson-nano-01/features/fs-bottlefit-cls";
    byte[] message = new byte[size];
    System.out.printf("spool bench: %d features of %d bytes at %.0f fps, outcome recorded for each, in %s%n", frames, size,
        fps, base);
    for (SpoolSettings.Fsync policy : SpoolSettings.Fsync.values()) {
      Path dir = Files.createTempDirectory(base, "spoolbench-");
      long[] lat = new long[frames];
      long interval = (long) (1e9 / fps);
      try (Spool s = Spool.open(new SpoolSettings(dir, 64L << 20, 4L << 20, Duration.ofMinutes(10), policy,
          Duration.ofMillis(50), SpoolSettings.FullPolicy.BLOCK))) {
        long next = System.nanoTime();
        long w0 = s.bytesWritten();
        long f0 = s.fsyncs();
        for (int i = 0; i < frames; i++) {
          long wait = next - System.nanoTime();
          if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
          next += interval;
          long t = System.nanoTime();
          s.append(i, topic, System.currentTimeMillis() * 1000, message);
          lat[i] = System.nanoTime() - t;
          s.finish(new Spool.Key(s.epoch(), i), Spool.Outcome.ANSWERED);
        }
        Thread.sleep(100);
        long bytes = s.bytesWritten() - w0;
        long fsyncs = s.fsyncs() - f0;
        Arrays.sort(lat);
        System.out.printf("fsync %-8s: %.0f bytes/feature (payload %d), %.3f fsyncs/feature, append p50 %.3f ms, p99 %.3f ms%n",
            policy.name().toLowerCase(), bytes / (double) frames, size, fsyncs / (double) frames, lat[frames / 2] / 1e6,
            lat[(int) (frames * 0.99)] / 1e6);
      }
      try (var st = Files.walk(dir)) {
        st.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}

package dev.splitrt.daemon;

import dev.splitrt.testsupport.DeviceAssembly;
import dev.splitrt.testsupport.Mosquitto;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A benchmark (not a test): the edge daemon of the x86-64 device assembly ({@code bin/splitrt-edge})
 * against the {@code tools/splitrt edge} CLI, CPU backend, the classifier's evaluation frames paced at
 * 15 fps into a loopback Mosquitto. Prints, per run and as medians: start (process launch) to first
 * feature at the broker, and the daemon's peak RSS (VmHWM of /proc/PID/status, read while it runs).
 * Run (after {@code mvn -B -DskipTests install} and {@code tools/device-assembly --platform linux-x86_64}):
 * {@code java -Dsplitrt.repo=$PWD -cp runtime/target/classes:runtime/target/test-classes:tools/target/lib/'*' dev.splitrt.daemon.EdgeStartBench [runs] [frames]}.
 */
public final class EdgeStartBench {
  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    int frames = args.length > 1 ? Integer.parseInt(args[1]) : 45;
    Path repo = DeviceAssembly.REPO;
    Path assembly = repo.resolve("target/device/splitrt-edge-linux-x86_64");
    if (!Files.isExecutable(assembly.resolve("bin/splitrt-edge"))) {
      throw new IllegalStateException(assembly + " is missing: run tools/device-assembly --platform linux-x86_64 first");
    }
    Path dir = Files.createTempDirectory("edge-start-bench-");
    Path src = Files.createDirectories(dir.resolve("frames"));
    try (var s = Files.list(repo.resolve("models/fs-bottlefit-cls/eval"))) {
      for (Path p : s.filter(p -> p.toString().endsWith(".jpg")).sorted().limit(frames).toList()) Files.copy(p, src.resolve(p.getFileName()));
    }
    System.out.printf("edge start bench: %d runs each, %d frames at 15 fps, fs-bottlefit-cls, CPU backend (x86-64-cpu profile)%n", runs, frames);
    try (Mosquitto broker = Mosquitto.start(dir.resolve("broker"))) {
      for (String variant : List.of("assembly", "cli")) {
        List<Double> starts = new ArrayList<>();
        List<Long> rss = new ArrayList<>();
        for (int r = 0; r < runs; r++) {
          String device = variant + "-" + r;
          Path config = dir.resolve(device + ".yaml");
          Files.writeString(config, "device_id: " + device + "\nfleet: bench\nmodel: fs-bottlefit-cls\nmodels_dir: " + assembly.resolve("models")
              + "\nprofile: x86-64-cpu\nprofiles_dir: " + assembly.resolve("profiles") + "\nsource: 'dir:" + src + "?fps=15'\n"
              + "broker:\n  url: '" + broker.url() + "'\n");
          CountDownLatch first = new CountDownLatch(1);
          AtomicLong firstAt = new AtomicLong();
          try (MqttLink watch = MqttLink.start(MqttSettings.defaults(broker.url(), "watch-" + device), null)) {
            watch.awaitConnected(Duration.ofSeconds(10));
            watch.subscribe(Topics.deviceFeatures("bench", device), 1, (t, p) -> {
              if (firstAt.compareAndSet(0, System.nanoTime())) first.countDown();
            });
            Thread.sleep(300);
            List<String> cmd = variant.equals("assembly")
                ? List.of(assembly.resolve("bin/splitrt-edge").toString(), "--config", config.toString())
                : List.of(repo.resolve("tools/splitrt").toString(), "edge", "--config", config.toString());
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(device + ".log").toFile()).start();
            long hwm = 0;
            while (p.isAlive()) {
              hwm = Math.max(hwm, vmHwmKb(p.pid()));
              Thread.sleep(100);
            }
            if (!first.await(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
              throw new IllegalStateException(variant + " run " + r + " failed (exit " + p.exitValue() + "): " + Files.readString(dir.resolve(device + ".log")));
            }
            double s = (firstAt.get() - t0) / 1e9;
            starts.add(s);
            rss.add(hwm);
            System.out.printf("  %-8s run %d: start -> first feature %.2f s, peak RSS %d MB%n", variant, r, s, hwm / 1024);
          }
        }
        starts.sort(null);
        rss.sort(null);
        System.out.printf("%-8s median: start -> first feature %.2f s, peak RSS %d MB%n", variant, starts.get(runs / 2), rss.get(runs / 2) / 1024);
      }
    }
  }

  private static long vmHwmKb(long pid) {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("\\D", ""));
      }
    } catch (Exception e) {
      // the process ended between isAlive and the read
    }
    return 0;
  }
}

import dev.splitrt.config.Yaml;
import dev.splitrt.infer.Backends;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.infer.TensorSpec;
import dev.splitrt.infer.tensorrt.EngineReport;
import dev.splitrt.infer.tensorrt.TensorRtBackend;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.profile.DeviceDetector;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The GPU proof driver (tools/gpu/trt-run.sh runs it): builds and runs the zoo's head and tail
 * engines through SplitRT's own TensorRT backend, found by {@link Backends} like production code (the
 * staged class path has no onnxruntime jar: discovery must skip that backend and still find TensorRT).
 * Rows per model: fp32 and fp16 (head and tail at that precision), and int8 (the INT8 Q/DQ head from
 * tools/gpu/qdq.sh, in QDQ_DIR, then the FP32 tail) when that head is there.
 * Phases (each a separate JVM, so "second start" is a real second start):
 *   build   - build/load the engines, reference-vector diffs, eval-set outputs, latency, inspector JSON
 *   reuse   - open everything again: every engine must come from the cache
 *   corrupt - damage cached engines two ways, open again: each must be rebuilt, outputs must still match
 * Usage: TrtRun PHASE REPO CACHE_DIR EVAL_DIR OUT_JSON [QDQ_DIR [INSPECT_DIR]]
 */
public final class TrtRun {
  static final String[] MODELS = {"fs-bottlefit-cls", "fs-leyolo-nano-det"};
  // int8 first: on a short device budget the new rows are measured before the ones of earlier runs.
  static final String[] PRECISIONS = {"int8", "fp32", "fp16"};
  /**
   * -Dtrtrun.headOnly=fp16,...: rows of these precisions build, check and time the head only (a short device
   * budget: the detector's cold FP16 tail build alone takes 150 s). int8 rows always need the FP32 tail.
   */
  static final List<String> HEAD_ONLY = List.of(System.getProperty("trtrun.headOnly", "").split(",")).stream()
      .map(String::trim).filter(x -> !x.isEmpty()).toList();

  public static void main(String[] a) throws Exception {
    String phase = a[0];
    Path repo = Path.of(a[1]);
    Path cache = Path.of(a[2]);
    Path eval = Path.of(a[3]);
    Path outJson = Path.of(a[4]);
    Path qdq = a.length > 5 ? Path.of(a[5]) : null;
    Path inspect = a.length > 6 ? Path.of(a[6]) : null;
    if (inspect != null) Files.createDirectories(inspect);
    System.out.println("backends skipped by discovery: " + (Backends.skipped().isEmpty() ? "none" : Backends.skipped()));
    InferenceBackend found = Backends.byName("tensorrt")
        .orElseThrow(() -> new IllegalStateException("no 'tensorrt' backend registered through ServiceLoader"));
    if (found.unavailableReason().isPresent()) throw new IllegalStateException("tensorrt unavailable: " + found.unavailableReason().get());
    TensorRtBackend probe = (TensorRtBackend) found;
    DeviceDetector.Detection det = DeviceDetector.detect(null, probe.cudaDeviceName().orElse(null));
    System.out.println("device profile: " + det.profile() + " (" + det.reason() + ")");
    DeviceProfile profile = new DeviceProfiles(repo.resolve("device-profiles")).load(det.profile());
    TensorRtBackend trt = new TensorRtBackend(profile, cache);
    Map<String, Object> res = new LinkedHashMap<>();
    res.put("phase", phase);
    res.put("profile", det.profile());
    res.put("tensorrt", trt.tensorrtVersion().orElse("?"));
    res.put("gpu", trt.cudaDeviceName().orElse("?"));
    res.put("backends_skipped_by_discovery", Backends.skipped());
    List<Object> rows = new ArrayList<>();
    res.put("rows", rows);
    if (phase.equals("corrupt")) corrupt(cache, res);
    for (String id : MODELS) {
      Path dir = repo.resolve("models").resolve(id);
      ModelManifest m = Yaml.read(dir.resolve("model.yaml"), ModelManifest.class);
      for (String prec : PRECISIONS) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("model", id);
        row.put("precision", prec);
        rows.add(row);
        ModelPartRef head = ref(id, "head", dir, m.head());
        ModelPartRef tail = ref(id, "tail", dir, m.tail());
        // int8: the Q/DQ head (explicit quantization, strongly typed) feeding the FP32 tail, as the cards measure it.
        String tailPrec = prec.equals("int8") ? "fp32" : prec;
        if (prec.equals("int8")) {
          Path q = qdq == null ? null : qdq.resolve(id + ".head-int8.onnx");
          if (q == null || !Files.isRegularFile(q)) {
            row.put("skipped", "no Q/DQ head " + q + " (tools/gpu/qdq.sh makes it)");
            System.out.println(id + " int8: skipped, no Q/DQ head " + q);
            continue;
          }
          head = new ModelPartRef(id, "head", q, sha256(Files.readAllBytes(q)), head.input(), head.output());
          row.put("head_onnx", q.getFileName().toString());
          row.put("head_onnx_sha256", head.sha256());
        }
        boolean headOnly = HEAD_ONLY.contains(prec) && !prec.equals("int8");
        row.put("head_precision", prec);
        row.put("tail_precision", headOnly ? "not run (trtrun.headOnly)" : tailPrec);
        for (ModelPartRef p : headOnly ? List.of(head) : List.of(head, tail)) {
          String pp = p == tail ? tailPrec : prec;
          long t0 = System.nanoTime();
          EngineReport r = trt.build(p, pp, false, msg -> System.out.println("  [" + id + "/" + p.part() + "/" + pp + "] " + msg));
          double ms = (System.nanoTime() - t0) / 1e6;
          Map<String, Object> e = new LinkedHashMap<>();
          e.put("from_cache", r.fromCache());
          e.put("build_ms", r.buildMillis());
          e.put("load_ms", r.loadMillis());
          e.put("ensure_ms", Math.round(ms));
          e.put("engine_bytes", r.engineBytes());
          e.put("file", r.file().getFileName().toString());
          e.put("layer_precisions", r.layerPrecisions());
          row.put(p.part() + "_engine", e);
          if (inspect != null) Files.writeString(inspect.resolve(id + "-" + p.part() + "-" + pp + ".json"), r.inspectorJson());
          System.out.printf("%s %s %s: %s, build %d ms, load %d ms, %d bytes, layers %s%n", id, p.part(), pp,
              r.fromCache() ? "CACHE HIT" : "BUILT", r.buildMillis(), r.loadMillis(), r.engineBytes(), r.layerPrecisions());
        }
        if (headOnly) {
          try (InferenceSession hs = trt.open(head, new SessionOptions(0, prec), System.out::println)) {
            row.put("backend", hs.backendName());
            reference(dir, hs, null, row);
            if (phase.equals("build")) {
              row.put("head_latency_us", latency(hs, 100, 2000));
              System.out.println(id + " " + prec + " head latency " + row.get("head_latency_us") + " (head only)");
            }
          }
          write(outJson, res);
          continue;
        }
        try (InferenceSession hs = trt.open(head, new SessionOptions(0, prec), System.out::println);
             InferenceSession ts = trt.open(tail, new SessionOptions(0, tailPrec), System.out::println)) {
          row.put("backend", hs.backendName());
          reference(dir, hs, ts, row);
          if (phase.equals("build")) {
            evalSet(eval, id, prec, hs, ts, row);
            row.put("head_latency_us", latency(hs, 100, 2000));
            row.put("tail_latency_us", latency(ts, 100, 2000));
            System.out.println(id + " " + prec + " head latency " + row.get("head_latency_us") + " tail " + row.get("tail_latency_us"));
          }
        }
        // After every row: a run cut short by the device call's time limit still leaves what it measured.
        write(outJson, res);
      }
    }
    res.put("complete", true);
    write(outJson, res);
    System.out.println("wrote " + outJson);
  }

  static void write(Path outJson, Map<String, Object> res) throws IOException {
    new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(outJson.toFile(), res);
  }

  static ModelPartRef ref(String id, String part, Path dir, ModelManifest.Part p) {
    return new ModelPartRef(id, part, dir.resolve(p.file()), p.sha256(),
        new TensorSpec(p.input().name(), p.input().dims()), new TensorSpec(p.output().name(), p.output().dims()));
  }

  /** Damages two cached engines: one truncated (checksum catches it), one overwritten with a valid checksum (TensorRT must refuse it). */
  static void corrupt(Path cache, Map<String, Object> res) throws IOException {
    List<Path> engines;
    try (var s = Files.list(cache)) {
      engines = s.filter(p -> p.toString().endsWith(".engine")).sorted().toList();
    }
    // The newest file of each kind: older keys' engines (other settings, other TensorRT) stay in the folder unused.
    Path truncated = newest(engines, "cls-head-fp32");
    Path garbage = newest(engines, "cls-head-int8");
    byte[] b = Files.readAllBytes(truncated);
    Files.write(truncated, Arrays.copyOf(b, b.length / 2));
    byte[] g = new byte[Files.readAllBytes(garbage).length];
    new java.util.Random(7).nextBytes(g);
    Files.write(garbage, g);
    Files.writeString(garbage.resolveSibling(garbage.getFileName() + ".sha256"), sha256(g) + "\n");
    res.put("corrupted_truncated", truncated.getFileName().toString());
    res.put("corrupted_garbage_with_valid_sha", garbage.getFileName().toString());
    System.out.println("corrupted " + truncated.getFileName() + " (truncated) and " + garbage.getFileName() + " (random bytes, matching checksum)");
  }

  static Path newest(List<Path> engines, String kind) {
    return engines.stream().filter(p -> p.getFileName().toString().contains(kind)).max((x, y) -> {
      try {
        return Files.getLastModifiedTime(x).compareTo(Files.getLastModifiedTime(y));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).orElseThrow(() -> new IllegalStateException("no cached " + kind + " engine to corrupt; run the build phase first"));
  }

  static String sha256(byte[] b) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static float[] f32(Path p) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
    float[] r = new float[b.remaining() / 4];
    b.asFloatBuffer().get(r);
    return r;
  }

  static void reference(Path dir, InferenceSession hs, InferenceSession ts, Map<String, Object> row) throws Exception {
    var vec = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("reference/vectors.json").toFile());
    double headMax = 0;
    double tailMax = 0;
    double chainMax = 0;
    int n = 0;
    for (var it : vec.path("items")) {
      float[] in = f32(dir.resolve("reference").resolve(it.path("input").asText()));
      float[] headRef = f32(dir.resolve("reference").resolve(it.path("head_output").asText()));
      float[] tailRef = f32(dir.resolve("reference").resolve(it.path("tail_output").asText()));
      hs.input().clear();
      hs.input().put(in);
      FloatBuffer h = hs.run();
      float[] hOut = new float[h.remaining()];
      h.get(hOut);
      headMax = Math.max(headMax, maxDiff(hOut, headRef));
      n++;
      if (ts == null) continue;
      ts.input().clear();
      ts.input().put(headRef);
      FloatBuffer t = ts.run();
      float[] tOut = new float[t.remaining()];
      t.get(tOut);
      tailMax = Math.max(tailMax, maxDiff(tOut, tailRef));
      ts.input().clear();
      ts.input().put(hOut);
      FloatBuffer c = ts.run();
      float[] cOut = new float[c.remaining()];
      c.get(cOut);
      chainMax = Math.max(chainMax, maxDiff(cOut, tailRef));
    }
    row.put("ref_vectors", n);
    row.put("ref_head_max_abs_diff", headMax);
    if (ts != null) {
      row.put("ref_tail_max_abs_diff", tailMax);
      row.put("ref_head_then_tail_max_abs_diff", chainMax);
    }
    System.out.printf("%s reference vectors (%d): head max|d| %.3e, tail max|d| %.3e, head->tail max|d| %.3e%n",
        hs.backendName(), n, headMax, tailMax, chainMax);
  }

  static double maxDiff(float[] a, float[] b) {
    if (a.length != b.length) throw new IllegalStateException("length " + a.length + " vs " + b.length);
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }

  /** Eval frames (preprocessed by trt_eval.py prep) through head then tail; tail outputs written for scoring. */
  static void evalSet(Path eval, String id, String prec, InferenceSession hs, InferenceSession ts, Map<String, Object> row) throws Exception {
    Path in = eval.resolve(id + ".input.f32");
    if (!Files.isRegularFile(in)) {
      row.put("eval", "skipped: " + in + " missing");
      return;
    }
    int inN = hs.inputSpec().elementCount();
    int outN = ts.outputSpec().elementCount();
    int midN = hs.outputSpec().elementCount();
    try (FileChannel src = FileChannel.open(in);
         FileChannel dst = FileChannel.open(eval.resolve(id + ".trt-" + prec + ".f32"), StandardOpenOption.CREATE,
             StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
         // The head outputs too: INT8 heads are compared with ONNX Runtime's INT8 run of the same Q/DQ file.
         FileChannel mid = FileChannel.open(eval.resolve(id + ".trt-" + prec + ".head.f32"), StandardOpenOption.CREATE,
             StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      long frames = src.size() / (4L * inN);
      FloatBuffer all = src.map(FileChannel.MapMode.READ_ONLY, 0, src.size()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      ByteBuffer out = ByteBuffer.allocate(4 * outN).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer hb = ByteBuffer.allocate(4 * midN).order(ByteOrder.LITTLE_ENDIAN);
      long t0 = System.nanoTime();
      for (long f = 0; f < frames; f++) {
        all.limit((int) ((f + 1) * inN)).position((int) (f * inN));
        hs.input().clear();
        hs.input().put(all);
        FloatBuffer h = hs.run();
        hb.clear();
        hb.asFloatBuffer().put(h.duplicate());
        mid.write(hb);
        ts.input().clear();
        ts.input().put(h);
        FloatBuffer t = ts.run();
        out.clear();
        out.asFloatBuffer().put(t);
        dst.write(out);
      }
      row.put("eval_frames", frames);
      row.put("eval_seconds", (System.nanoTime() - t0) / 1e9);
    }
  }

  static Map<String, Object> latency(InferenceSession s, int warm, int n) throws Exception {
    for (int i = 0; i < warm; i++) s.run();
    double[] us = new double[n];
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      s.run();
      us[i] = (System.nanoTime() - t) / 1e3;
    }
    Arrays.sort(us);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", n);
    m.put("p50", Math.round(us[n / 2] * 10) / 10.0);
    m.put("p90", Math.round(us[(int) (n * 0.90)] * 10) / 10.0);
    m.put("p99", Math.round(us[(int) (n * 0.99)] * 10) / 10.0);
    m.put("max", Math.round(us[n - 1] * 10) / 10.0);
    return m;
  }
}

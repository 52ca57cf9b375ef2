package dev.splitrt.eval;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.FeatureDecoder;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FeatureFrame;
import dev.splitrt.codec.FeatureFrameException;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.codec.Granularity;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Postprocessor;
import dev.splitrt.tail.Prediction;
import dev.splitrt.vision.Frame;
import dev.splitrt.vision.FrameSource;
import dev.splitrt.vision.FrameSources;
import dev.splitrt.vision.ImageTransform;
import dev.splitrt.vision.Preprocessor;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.IntConsumer;

/**
 * Rate against accuracy for one model: every (weights variant x bottleneck codec) through the path
 * a deployed frame takes (Preprocessor, head session, {@link FeatureEncoder}, the whole FeatureFrame
 * message, {@link FeatureDecoder}, tail session, evaluation-mode {@link Postprocessor}) over the
 * model's evaluation frames, scored like the model card (top-1 or mAP@0.5). The head runs once per
 * frame and variant; each codec then encodes, decodes and runs the tail. Codecs that differ only in
 * their lossless entropy stage decode to the same tensor (checked bit for bit on every frame), so
 * the tail runs once for them and they share the accuracy while each keeps its own byte count.
 */
public final class CodecSweep {
  /** The device id written into every measured message (the v1 doc's example size assumes 14 bytes). */
  public static final String DEVICE_ID = "jetson-nano-01";

  /**
   * A set of weights: {@code head}/{@code tail} ONNX files that replace the manifest's (null: the
   * manifest's own file). They must have the manifest's tensor names and shapes.
   */
  public record Variant(String name, Path head, Path tail) {
    public Variant {
      Objects.requireNonNull(name, "variant name");
    }

    /** The model's own FP32 files. */
    public static Variant fp32() {
      return new Variant("fp32", null, null);
    }
  }

  /**
   * One measured configuration. {@code codec} is null for the references: {@code unsplit} (the
   * full model) and {@code split} (head to tail in float32, nothing quantized).
   *
   * @param meanBytes mean whole-message size per frame (header, payload and CRC); 0 for references
   * @param maxBytes the largest message seen
   * @param metric top-1 accuracy or mAP@0.5, as a fraction
   * @param map5095 detectors: mAP@0.5:0.95; classifiers: NaN
   */
  public record Row(String variant, String reference, CodecSpec codec, long frames, double meanBytes, int maxBytes,
                    double metric, double map5095) {
    public String name() {
      return codec != null ? codec.label() : reference;
    }
  }

  /** Everything measured for one model. */
  public record Result(String modelId, ModelManifest.Task task, int rawInputBytes, List<Row> rows) {
    public Result {
      rows = List.copyOf(rows);
    }

    public String metricName() {
      return task == ModelManifest.Task.CLASSIFICATION ? "top-1" : "mAP@0.5";
    }

    public Optional<Row> find(String variant, String name) {
      return rows.stream().filter(r -> r.variant().equals(variant) && r.name().equals(name)).findFirst();
    }
  }

  private CodecSweep() {}

  /** Every codec the format offers: 8/6/4/2 bits x uniform (per tensor/channel, sym/asym) and three-range x entropy. */
  public static List<CodecSpec> allCodecs() {
    List<CodecSpec> out = new ArrayList<>();
    for (int bits : new int[] {8, 6, 4, 2}) {
      for (Granularity g : Granularity.values()) {
        for (boolean sym : g.ranges() == 3 ? new boolean[] {false} : new boolean[] {false, true}) {
          for (Entropy e : Entropy.values()) out.add(new CodecSpec(bits, g, sym, e));
        }
      }
    }
    return out;
  }

  /**
   * Runs the sweep. {@code maxFrames <= 0}: every evaluation frame. {@code progress} receives the
   * number of frames done (per variant). Throws IOException for a missing or inconsistent
   * evaluation set, InferenceException when a session cannot open or run.
   */
  public static Result run(LoadedModel model, InferenceBackend backend, SessionOptions options, List<Variant> variants,
      List<CodecSpec> codecs, int maxFrames, IntConsumer progress) throws IOException, InferenceException {
    return run(model, null, backend, options, variants, codecs, maxFrames, progress);
  }

  /**
   * As {@link #run(LoadedModel, InferenceBackend, SessionOptions, List, List, int, IntConsumer)} over
   * {@code evalSet} (a folder of frames + labels.json, e.g. a whole test split written by
   * models/recipes/export_test_split.py) instead of the model's committed eval subset; null = the subset.
   */
  public static Result run(LoadedModel model, Path evalSet, InferenceBackend backend, SessionOptions options, List<Variant> variants,
      List<CodecSpec> codecs, int maxFrames, IntConsumer progress) throws IOException, InferenceException {
    ModelManifest mf = model.manifest();
    if (evalSet == null && mf.eval() == null) {
      throw new IOException(model.dir().resolve("model.yaml") + ": no 'eval' section; the sweep needs evaluation frames");
    }
    EvalLabels labels = EvalLabels.read(evalSet != null ? evalSet.resolve("labels.json") : model.resolve(mf.eval().labels()));
    Path images = evalSet != null ? evalSet : model.resolve(mf.eval().images());
    checkOrder(labels, images);
    int frames = maxFrames > 0 ? Math.min(maxFrames, labels.items().size()) : labels.items().size();
    boolean detection = mf.task() == ModelManifest.Task.DETECTION;
    int[] shape = mf.head().output().dims();
    int elements = mf.head().output().elementCount();
    byte[] headSha = model.headSha256();

    // Quantizers: codecs grouped by everything but the entropy stage; each group runs the tail once.
    Map<String, List<CodecSpec>> quantizers = new LinkedHashMap<>();
    for (CodecSpec c : codecs) {
      quantizers.computeIfAbsent(c.bits() + "/" + c.granularity() + "/" + c.symmetric(), k -> new ArrayList<>()).add(c);
    }
    List<Row> rows = new ArrayList<>();
    Postprocessor post = Postprocessor.forModel(mf, true);
    FeatureDecoder decoder = new FeatureDecoder(elements);
    for (Variant v : variants) {
      Score unsplit = new Score(detection);
      Score split = new Score(detection);
      List<List<CodecSpec>> groups = new ArrayList<>(quantizers.values());
      Score[] scores = new Score[groups.size()];
      List<FeatureEncoder[]> encoders = new ArrayList<>();
      Map<CodecSpec, long[]> bytes = new LinkedHashMap<>();   // sum, max
      for (int q = 0; q < groups.size(); q++) {
        scores[q] = new Score(detection);
        FeatureEncoder[] e = new FeatureEncoder[groups.get(q).size()];
        for (int k = 0; k < e.length; k++) {
          e[k] = new FeatureEncoder(groups.get(q).get(k), shape);
          bytes.put(groups.get(q).get(k), new long[2]);
        }
        encoders.add(e);
      }
      float[] reference = new float[elements];
      float[] decoded = new float[elements];
      boolean isFp32 = v.head() == null && v.tail() == null;
      try (InferenceSession full = isFp32 ? backend.open(model.full(), options) : null;
           InferenceSession head = backend.open(part(model.head(), v.head()), options);
           InferenceSession tail = backend.open(part(model.tail(), v.tail()), options);
           FrameSource source = FrameSources.open(images.toString())) {
        Preprocessor pre = new Preprocessor(mf.input());
        for (int i = 0; i < frames; i++) {
          EvalLabels.Item item = labels.items().get(i);
          Optional<Frame> next = source.next();
          if (next.isEmpty()) throw new IOException(images + ": ended after " + i + " frames; labels list " + frames);
          try (Frame frame = next.get()) {
            if (full != null) {
              ImageTransform t = pre.apply(frame, full.input());
              unsplit.add(post.apply(full.run(), t), item);
            }
            pre.apply(frame, head.input());
            FloatBuffer features = head.run();
            FrameHeader header = new FrameHeader(DEVICE_ID, mf.id(), headSha, frame.sequence(), frame.captureEpochMicros(),
                frame.width(), frame.height());
            ImageTransform t = Preprocessor.transformFor(mf.input(), header.sourceWidth(), header.sourceHeight());
            tail.input().put(0, features, 0, elements);
            split.add(post.apply(tail.run(), t), item);
            for (int q = 0; q < groups.size(); q++) {
              FeatureEncoder[] e = encoders.get(q);
              for (int k = 0; k < e.length; k++) {
                byte[] msg = e[k].encode(header, features);
                long[] b = bytes.get(groups.get(q).get(k));
                b[0] += msg.length;
                b[1] = Math.max(b[1], msg.length);
                FeatureFrame f = decoder.decode(msg);
                if (!f.header().equals(header)) throw new IllegalStateException("header did not survive " + f.codec());
                f.dequantizeInto(FloatBuffer.wrap(k == 0 ? reference : decoded));
                if (k > 0 && !Arrays.equals(reference, decoded)) {
                  throw new IllegalStateException(groups.get(q).get(k).label() + " decodes frame " + i
                      + " differently from " + groups.get(q).get(0).label() + "; entropy stages must be lossless");
                }
              }
              tail.input().put(0, reference, 0, elements);
              scores[q].add(post.apply(tail.run(), t), item);
            }
          } catch (FeatureFrameException e) {
            throw new IllegalStateException("the decoder refused a frame the encoder wrote: " + e.getMessage(), e);
          }
          if (progress != null) progress.accept(i + 1);
        }
      }
      if (isFp32) rows.add(unsplit.row(v.name(), "unsplit-fp32", null, frames, 0, 0));
      rows.add(split.row(v.name(), "split-fp32", null, frames, 0, 0));
      for (int q = 0; q < groups.size(); q++) {
        for (CodecSpec c : groups.get(q)) {
          long[] b = bytes.get(c);
          rows.add(scores[q].row(v.name(), null, c, frames, (double) b[0] / frames, (int) b[1]));
        }
      }
    }
    return new Result(mf.id(), mf.task(), mf.input().width() * mf.input().height() * 3, rows);
  }

  private static ModelPartRef part(ModelPartRef base, Path replacement) throws IOException {
    if (replacement == null) return base;
    if (!Files.isRegularFile(replacement)) {
      throw new IOException(replacement + ": weights variant file not found; give an ONNX file with the " + base.part()
          + "'s tensors " + base.input() + " -> " + base.output());
    }
    return new ModelPartRef(base.modelId(), base.part(), replacement, null, base.input(), base.output());
  }

  /** The folder source reads files in name order; the labels must list the same files in the same order. */
  static void checkOrder(EvalLabels labels, Path images) throws IOException {
    List<String> files;
    try (var s = Files.list(images)) {
      files = s.map(p -> p.getFileName().toString())
          .filter(n -> n.toLowerCase(Locale.ROOT).matches(".*\\.(jpg|jpeg|png)")).sorted().toList();
    }
    List<String> listed = labels.items().stream().map(EvalLabels.Item::file).toList();
    if (!files.equals(listed)) {
      throw new IOException(images + ": the images in name order are not the files labels.json lists in its order; "
          + "sort labels.json items by file name (the evaluation reads the folder in name order)");
    }
  }

  /** One metric accumulator. */
  private static final class Score {
    private final TopOneAccuracy top1;
    private final MeanAveragePrecision map;

    Score(boolean detection) {
      top1 = detection ? null : new TopOneAccuracy();
      map = detection ? new MeanAveragePrecision() : null;
    }

    void add(Prediction p, EvalLabels.Item item) {
      if (top1 != null) {
        top1.add(((Classification) p).topK().get(0).label(), item.label());
      } else {
        map.add((Detections) p, item.boxes());
      }
    }

    Row row(String variant, String reference, CodecSpec codec, long frames, double meanBytes, int maxBytes) {
      return top1 != null ? new Row(variant, reference, codec, frames, meanBytes, maxBytes, top1.value(), Double.NaN)
          : new Row(variant, reference, codec, frames, meanBytes, maxBytes, map.map50(), map.map50to95());
    }
  }
}

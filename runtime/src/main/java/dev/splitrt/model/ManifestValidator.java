package dev.splitrt.model;

import dev.splitrt.codec.CodecConfig;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** Checks the values of a parsed {@code model.yaml} (schema 1, models/README.md); messages name file, field, fix. */
final class ManifestValidator {
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final int MAX_SIDE = 8192;

  private final Path yaml;
  private final String folder;
  private final ModelManifest m;

  ManifestValidator(Path yaml, String folder, ModelManifest m) {
    this.yaml = yaml;
    this.folder = folder;
    this.m = m;
  }

  void validate() throws ModelException {
    if (m.schema() != 1) fail("schema", "is " + m.schema() + ", this runtime reads schema 1", "set schema: 1 (or use a runtime that reads schema " + m.schema() + ")");
    required("id", m.id());
    if (!ModelRegistry.ID.matcher(m.id()).matches()) fail("id", "is '" + m.id() + "', expected [a-z0-9-]+", "rename the model (and its folder)");
    if (!m.id().equals(folder)) fail("id", "is '" + m.id() + "' but the folder is '" + folder + "'", "make id equal to the folder name");
    required("family", m.family());
    required("task", m.task());
    required("description", m.description());
    input();
    part("head", m.head());
    part("tail", m.tail());
    part("full", m.full());
    consistency();
    codec();
    labels();
    postprocess();
    if (m.eval() != null) {
      relative("eval.images", m.eval().images());
      relative("eval.labels", m.eval().labels());
      if (m.eval().video() != null) relative("eval.video", m.eval().video());
    }
    if (m.reference() != null) relative("reference", m.reference());
  }

  private void input() throws ModelException {
    ModelManifest.Input in = m.input();
    required("input", in);
    if (in.width() <= 0 || in.width() > MAX_SIDE) fail("input.width", "is " + in.width() + ", expected 1.." + MAX_SIDE, "set the network's input width");
    if (in.height() <= 0 || in.height() > MAX_SIDE) fail("input.height", "is " + in.height() + ", expected 1.." + MAX_SIDE, "set the network's input height");
    required("input.color", in.color());
    required("input.resize", in.resize());
    if (in.resize() == ModelManifest.ResizeMode.LETTERBOX) required("input.pad_value", in.padValue());
    if (in.padValue() != null && (in.padValue() < 0 || in.padValue() > 255)) fail("input.pad_value", "is " + in.padValue() + ", expected 0..255", "set a pixel value in 0..255");
    if (!(in.scale() > 0) || !Double.isFinite(in.scale())) fail("input.scale", "is " + in.scale() + ", expected a finite number > 0", "use e.g. 0.00392156862745098 (1/255)");
    triple("input.mean", in.mean(), false);
    triple("input.std", in.std(), true);
    if (!"nchw".equals(in.layout())) fail("input.layout", "is '" + in.layout() + "', v1 supports only nchw", "set layout: nchw and export the head as NCHW");
  }

  private void triple(String field, List<Double> v, boolean positive) throws ModelException {
    required(field, v);
    if (v.size() != 3) fail(field, "has " + v.size() + " values, expected 3 (one per channel)", "give three values");
    for (int i = 0; i < 3; i++) {
      Double d = v.get(i);
      if (d == null || !Double.isFinite(d) || (positive && !(d > 0))) {
        fail(field + "[" + i + "]", "is " + d + ", expected a finite number" + (positive ? " > 0" : ""), "correct the value");
      }
    }
  }

  private void part(String name, ModelManifest.Part p) throws ModelException {
    required(name, p);
    required(name + ".file", p.file());
    relative(name + ".file", p.file());
    required(name + ".sha256", p.sha256());
    if (!SHA256.matcher(p.sha256()).matches()) {
      fail(name + ".sha256", "is '" + p.sha256() + "', expected 64 lowercase hex digits", "set it to the output of sha256sum " + p.file());
    }
    tensor(name + ".input", p.input());
    tensor(name + ".output", p.output());
  }

  private void tensor(String field, ModelManifest.Tensor t) throws ModelException {
    required(field, t);
    required(field + ".name", t.name());
    required(field + ".shape", t.shape());
    if (t.shape().isEmpty() || t.shape().size() > 8) fail(field + ".shape", "has rank " + t.shape().size() + ", expected 1..8", "give the static shape");
    long n = 1;
    for (Integer d : t.shape()) {
      if (d == null || d <= 0) fail(field + ".shape", "is " + t.shape() + ": every dimension must be a fixed size > 0", "export with static shapes");
      n *= d;
      if (n > Integer.MAX_VALUE / 4) fail(field + ".shape", "is " + t.shape() + ", more than " + (Integer.MAX_VALUE / 4) + " elements", "check the shape");
    }
  }

  private void consistency() throws ModelException {
    List<Integer> image = List.of(1, 3, m.input().height(), m.input().width());
    if (!m.head().input().shape().equals(image)) {
      fail("head.input.shape", "is " + m.head().input().shape() + " but input width/height give " + image, "make them agree");
    }
    if (!m.full().input().shape().equals(m.head().input().shape())) {
      fail("full.input.shape", "is " + m.full().input().shape() + " but head.input.shape is " + m.head().input().shape(), "make them agree");
    }
    if (!m.tail().input().shape().equals(m.head().output().shape())) {
      fail("tail.input.shape", "is " + m.tail().input().shape() + " but head.output.shape is " + m.head().output().shape(),
          "the tail must take the head's output; make them agree");
    }
    if (!m.full().output().shape().equals(m.tail().output().shape())) {
      fail("full.output.shape", "is " + m.full().output().shape() + " but tail.output.shape is " + m.tail().output().shape(), "make them agree");
    }
  }

  private void codec() throws ModelException {
    required("bottleneck", m.bottleneck());
    CodecConfig c = m.bottleneck().codec();
    required("bottleneck.codec", c);
    if ("rans".equals(c.entropy()) || "learned".equals(c.granularity())) {
      learnedCodec(c);
      return;
    }
    absent("bottleneck.entropy_model", m.bottleneck().entropyModel());
    if (c.bits() != 2 && c.bits() != 4 && c.bits() != 6 && c.bits() != 8) fail("bottleneck.codec.bits", "is " + c.bits() + ", expected one of 2, 4, 6, 8", "pick a supported width");
    oneOf("bottleneck.codec.granularity", c.granularity(), "per_tensor", "per_channel", "three_range", "three_range_per_channel");
    if (c.symmetric() && c.granularity().startsWith("three_range")) fail("bottleneck.codec.symmetric", "is true with granularity " + c.granularity(), "set symmetric: false (three-range codecs give each range its own zero point)");
    oneOf("bottleneck.codec.entropy", c.entropy(), "none", "deflate", "zstd");
  }

  /** The learned entropy bottleneck (FeatureFrame v3): bits 0, granularity learned, entropy rans, and its tables. */
  private void learnedCodec(CodecConfig c) throws ModelException {
    String fix = "a learned-codec model writes {bits: 0, granularity: learned, symmetric: false, entropy: rans}";
    if (c.bits() != 0) fail("bottleneck.codec.bits", "is " + c.bits() + " with the learned codec", fix);
    if (!"learned".equals(c.granularity())) fail("bottleneck.codec.granularity", "is " + c.granularity() + " with entropy rans", fix);
    if (!"rans".equals(c.entropy())) fail("bottleneck.codec.entropy", "is " + c.entropy() + " with granularity learned", fix);
    if (c.symmetric()) fail("bottleneck.codec.symmetric", "is true with the learned codec", fix);
    ModelManifest.EntropyModel e = m.bottleneck().entropyModel();
    required("bottleneck.entropy_model", e);
    required("bottleneck.entropy_model.file", e.file());
    required("bottleneck.entropy_model.sha256", e.sha256());
    if (!e.sha256().matches("[0-9a-f]{64}")) fail("bottleneck.entropy_model.sha256", "is not 64 lower-case hex characters", "write the SHA-256 of the tables file");
    if (e.precision() != 16) fail("bottleneck.entropy_model.precision", "is " + e.precision(), "this runtime reads 16-bit tables");
    List<Integer> out = m.head().output().shape();
    if (out.size() < 2 || e.channels() != out.get(1)) {
      fail("bottleneck.entropy_model.channels", "is " + e.channels() + " but head.output.shape is " + out, "one table per channel (axis 1)");
    }
    if (e.tableId() < 0 || e.tableId() > 0xFFFFFFFFL) fail("bottleneck.entropy_model.table_id", "is " + e.tableId(), "a u32");
  }

  private void labels() throws ModelException {
    List<String> labels = m.labels();
    required("labels", labels);
    if (labels.isEmpty()) fail("labels", "is empty", "list the class names");
    Set<String> seen = new HashSet<>();
    for (String l : labels) {
      if (l == null || l.isBlank()) fail("labels", "contains an empty name", "name every class");
      if (!seen.add(l)) fail("labels", "contains '" + l + "' twice", "make the names unique");
    }
    List<Integer> out = m.tail().output().shape();
    if (m.task() == ModelManifest.Task.CLASSIFICATION) {
      if (out.size() != 2 || out.get(0) != 1 || out.get(1) != labels.size()) {
        fail("labels", "has " + labels.size() + " names but tail.output.shape is " + out + " (expected [1, " + labels.size() + "])",
            "list one label per output class");
      }
    } else if (out.size() != 3 || out.get(0) != 1 || out.get(2) != 4 + labels.size()) {
      fail("labels", "has " + labels.size() + " names but tail.output.shape is " + out + " (expected [1, anchors, "
          + (4 + labels.size()) + "] = 4 box values + one logit per label)", "list one label per output class");
    }
  }

  private void postprocess() throws ModelException {
    ModelManifest.Postprocess p = m.postprocess();
    required("postprocess", p);
    required("postprocess.kind", p.kind());
    String task = m.task().name().toLowerCase();
    if (!p.kind().equals(task)) fail("postprocess.kind", "is '" + p.kind() + "' but task is " + task, "set kind: " + task);
    if (m.task() == ModelManifest.Task.CLASSIFICATION) {
      oneOf("postprocess.activation", p.activation(), "softmax");
      required("postprocess.top_k", p.topK());
      if (p.topK() < 1 || p.topK() > m.labels().size()) fail("postprocess.top_k", "is " + p.topK() + ", expected 1.." + m.labels().size(), "pick a k within the label count");
      absent("decode", p.decode());
      absent("strides", p.strides());
      absent("score_activation", p.scoreActivation());
      absent("score_threshold", p.scoreThreshold());
      absent("eval_score_threshold", p.evalScoreThreshold());
      absent("iou_threshold", p.iouThreshold());
      absent("max_detections", p.maxDetections());
      return;
    }
    absent("activation", p.activation());
    absent("top_k", p.topK());
    oneOf("postprocess.decode", p.decode(), "ltrb_anchor_free");
    oneOf("postprocess.score_activation", p.scoreActivation(), "sigmoid");
    required("postprocess.strides", p.strides());
    if (p.strides().isEmpty()) fail("postprocess.strides", "is empty", "list the detection strides, e.g. [8, 16, 32]");
    long anchors = 0;
    int w = m.input().width();
    int h = m.input().height();
    for (Integer s : p.strides()) {
      if (s == null || s <= 0 || w % s != 0 || h % s != 0) {
        fail("postprocess.strides", "contains " + s + ", which does not divide the input " + w + "x" + h, "use strides that divide the input size");
      }
      anchors += (long) (w / s) * (h / s);
    }
    int outAnchors = m.tail().output().shape().get(1);
    if (anchors != outAnchors) {
      fail("postprocess.strides", "give " + anchors + " anchor points for " + w + "x" + h + " but tail.output.shape has " + outAnchors,
          "list the strides of the exported heads");
    }
    unit("postprocess.score_threshold", p.scoreThreshold());
    unit("postprocess.eval_score_threshold", p.evalScoreThreshold());
    unit("postprocess.iou_threshold", p.iouThreshold());
    required("postprocess.max_detections", p.maxDetections());
    if (p.maxDetections() < 1) fail("postprocess.max_detections", "is " + p.maxDetections() + ", expected >= 1", "set e.g. 100");
  }

  private void unit(String field, Double v) throws ModelException {
    required(field, v);
    if (!(v >= 0 && v <= 1)) fail(field, "is " + v + ", expected 0..1", "set a probability");
  }

  private void absent(String field, Object v) throws ModelException {
    if (v != null) {
      fail("postprocess." + field, "is set but does not apply to task " + m.task().name().toLowerCase(), "remove it");
    }
  }

  private void oneOf(String field, String v, String... allowed) throws ModelException {
    required(field, v);
    for (String a : allowed) if (a.equals(v)) return;
    fail(field, "is '" + v + "', expected one of: " + String.join(", ", allowed), "use a supported value");
  }

  private void relative(String field, String v) throws ModelException {
    required(field, v);
    try {
      Path p = Path.of(v);
      // one exception: ../<id>/rest names a file of a sibling model folder (a shared teacher or eval set);
      // LoadedModel.resolve checks that <id> is a model folder
      boolean sibling = p.getNameCount() >= 3 && p.startsWith("..") && !p.subpath(1, p.getNameCount()).startsWith("..");
      if (v.isBlank() || p.isAbsolute() || !p.normalize().equals(p) || (p.startsWith("..") && !sibling)) {
        fail(field, "is '" + v + "', expected a plain path inside the model folder (or ../<id>/... in a sibling model folder)",
            "give a relative path without other '..'");
      }
    } catch (InvalidPathException e) {
      fail(field, "is '" + v + "', not a valid path", "give a relative path inside the model folder");
    }
  }

  private void required(String field, Object v) throws ModelException {
    if (v == null || (v instanceof String s && s.isBlank())) fail(field, "is missing", "add it (see models/README.md)");
  }

  private void fail(String field, String what, String fix) throws ModelException {
    throw new ModelException(yaml + ": " + field + " " + what + "; fix: " + fix + " in " + yaml);
  }
}

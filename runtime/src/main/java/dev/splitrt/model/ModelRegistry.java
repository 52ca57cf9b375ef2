package dev.splitrt.model;

import dev.splitrt.config.ConfigException;
import dev.splitrt.config.Yaml;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The model zoo on disk ({@code models/<id>/model.yaml}). Loading checks everything a run depends on
 * up front — manifest values, files, SHA-256 checksums and the real ONNX input/output signatures — so
 * a broken or mismatched model fails at start-up with a message that names the file and the fix,
 * not later as a wrong shape inside the inference engine.
 */
public final class ModelRegistry {
  static final Pattern ID = Pattern.compile("[a-z0-9-]+");
  private static final String MANIFEST = "model.yaml";

  private final Path modelsDir;

  public ModelRegistry(Path modelsDir) {
    this.modelsDir = modelsDir;
  }

  /** Folders of {@code modelsDir} holding a {@code model.yaml}, sorted; empty when the folder is missing. */
  public List<String> ids() {
    List<String> ids = new ArrayList<>();
    if (!Files.isDirectory(modelsDir)) return ids;
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(modelsDir, Files::isDirectory)) {
      for (Path d : dirs) {
        if (Files.isRegularFile(d.resolve(MANIFEST))) ids.add(d.getFileName().toString());
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot list " + modelsDir + ": " + e.getMessage(), e);
    }
    ids.sort(null);
    return ids;
  }

  /** Parses and validates {@code models/<id>} (values, files, SHA-256, ONNX signatures of head, tail and full). */
  public LoadedModel load(String id) throws ModelException {
    LoadedModel model = manifest(id);
    Path yaml = model.dir().resolve(MANIFEST);
    ModelManifest m = model.manifest();
    checkFiles(yaml, model);
    checkPart(yaml, model, "head", m.head());
    checkPart(yaml, model, "tail", m.tail());
    checkPart(yaml, model, "full", m.full());
    checkEntropyModel(yaml, model);
    return model;
  }

  /**
   * What a device runs, and nothing more: the manifest's values, the head graph (file, SHA-256, ONNX
   * signature), the learned codec's entropy tables and the reference vectors when the manifest names
   * them. The server half ({@code tail.file}, {@code full.file}) and the evaluation data need not be
   * there: a provisioning bundle and the device assembly ship without them (84x the head's bytes).
   * Only {@link LoadedModel#head()} of the result is usable; {@code tail()} and {@code full()} name
   * files that may be absent.
   */
  public LoadedModel loadHead(String id) throws ModelException {
    LoadedModel model = manifest(id);
    Path yaml = model.dir().resolve(MANIFEST);
    ModelManifest m = model.manifest();
    requireFile(yaml, model, "head.file", m.head().file());
    if (m.reference() != null) requireFile(yaml, model, "reference", m.reference());
    checkPart(yaml, model, "head", m.head());
    checkEntropyModel(yaml, model);
    return model;
  }

  /** The manifest of {@code models/<id>}, parsed and its values validated; no file beside it is read. */
  private LoadedModel manifest(String id) throws ModelException {
    List<String> known = ids();
    if (id == null || !ID.matcher(id).matches() || !known.contains(id)) {
      throw new ModelException("unknown model '" + id + "' in " + modelsDir + "; known models: "
          + (known.isEmpty() ? "(none)" : String.join(", ", known))
          + "; fix: use one of these ids or add models/<id>/model.yaml (see models/README.md)");
    }
    Path dir = modelsDir.resolve(id);
    Path yaml = dir.resolve(MANIFEST);
    ModelManifest m;
    try {
      m = Yaml.read(yaml, ModelManifest.class);
    } catch (ConfigException e) {
      throw new ModelException(e.getMessage() + "; fix " + yaml + " (schema 1 is documented in models/README.md)", e);
    }
    new ManifestValidator(yaml, id, m).validate();
    return new LoadedModel(m, dir);
  }

  private static void checkFiles(Path yaml, LoadedModel model) throws ModelException {
    ModelManifest m = model.manifest();
    requireFile(yaml, model, "head.file", m.head().file());
    requireFile(yaml, model, "tail.file", m.tail().file());
    requireFile(yaml, model, "full.file", m.full().file());
    if (m.reference() != null) requireFile(yaml, model, "reference", m.reference());
    if (m.eval() != null) {
      Path images = model.resolve(m.eval().images());
      if (!Files.isDirectory(images)) {
        throw new ModelException(images + ": folder not found (eval.images in " + yaml
            + "); fix: restore the folder or correct eval.images");
      }
      requireFile(yaml, model, "eval.labels", m.eval().labels());
      if (m.eval().video() != null) requireFile(yaml, model, "eval.video", m.eval().video());
    }
  }

  /** The learned codec's tables: present, the manifest's SHA-256, valid, the manifest's table id. */
  private static void checkEntropyModel(Path yaml, LoadedModel model) throws ModelException {
    ModelManifest.EntropyModel e = model.manifest().bottleneck().entropyModel();
    if (e == null) return;
    requireFile(yaml, model, "bottleneck.entropy_model.file", e.file());
    Path file = model.resolve(e.file());
    String actual = sha256(file);
    if (!actual.equals(e.sha256())) {
      throw new ModelException(file + ": SHA-256 is " + actual + " but bottleneck.entropy_model.sha256 in " + yaml + " says "
          + e.sha256() + "; fix: restore the file (encoder and decoder must share these exact tables) or re-export the model");
    }
    dev.splitrt.codec.EntropyTables t;
    try {
      t = model.entropyTables();
    } catch (java.io.IOException ex) {
      throw new ModelException(ex.getMessage(), ex);
    }
    if ((t.tableId() & 0xFFFFFFFFL) != e.tableId()) {
      throw new ModelException(file + ": table id " + (t.tableId() & 0xFFFFFFFFL) + " (first 4 bytes of its SHA-256) but "
          + "bottleneck.entropy_model.table_id in " + yaml + " says " + e.tableId() + "; fix: correct table_id");
    }
    if (t.channels() != e.channels()) {
      throw new ModelException(file + ": " + t.channels() + " channels but bottleneck.entropy_model.channels in " + yaml
          + " says " + e.channels() + "; fix: re-export the model");
    }
  }

  private static void requireFile(Path yaml, LoadedModel model, String field, String relative) throws ModelException {
    Path p = model.resolve(relative);
    if (!Files.isRegularFile(p)) {
      throw new ModelException(p + ": file not found (" + field + " in " + yaml + "); fix: restore the file (git checkout, "
          + "or re-export it with provenance.command) or correct " + field);
    }
  }

  private static void checkPart(Path yaml, LoadedModel model, String name, ModelManifest.Part part) throws ModelException {
    Path file = model.resolve(part.file());
    String actual = sha256(file);
    if (!actual.equals(part.sha256())) {
      throw new ModelException(file + ": SHA-256 is " + actual + " but " + name + ".sha256 in " + yaml + " says "
          + part.sha256() + "; fix: restore the file, or if it was re-exported on purpose update " + name + ".sha256 in "
          + yaml);
    }
    OnnxSignature sig = OnnxSignature.read(file);
    checkSide(yaml, file, name, "input", part.input(), sig.inputs);
    checkSide(yaml, file, name, "output", part.output(), sig.outputs);
  }

  private static void checkSide(Path yaml, Path file, String part, String side, ModelManifest.Tensor expected,
      List<OnnxSignature.Value> found) throws ModelException {
    if (found.size() == 1 && found.get(0).matches(expected.name(), expected.shape())) return;
    String foundText = found.isEmpty() ? "no " + side
        : found.stream().map(OnnxSignature.Value::describe).reduce((a, b) -> a + ", " + b).orElseThrow();
    throw new ModelException(file + ": graph " + side + " is " + foundText + " but " + part + "." + side + " in " + yaml
        + " says '" + expected.name() + "' float" + expected.shape() + " (v1 needs exactly one float " + side
        + " with a static shape); fix: set " + part + "." + side + " in " + yaml + " to the graph's signature, or "
        + "re-export the graph with provenance.command");
  }

  static String sha256(Path file) throws ModelException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
    } catch (NoSuchFileException e) {
      throw new ModelException(file + ": file not found; fix: restore the file", e);
    } catch (IOException e) {
      throw new ModelException(file + ": cannot read (" + e + "); fix: check permissions or restore the file", e);
    }
    return HexFormat.of().formatHex(md.digest());
  }
}

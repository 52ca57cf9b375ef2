package dev.splitrt.model;

import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.TensorSpec;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * A model folder whose manifest, files, checksums and ONNX signatures were checked by
 * {@link ModelRegistry#load}: the one object the edge, the tail runner and the tools hand around, so
 * each part reference carries a verified file and its expected tensor signature.
 */
public record LoadedModel(ModelManifest manifest, Path dir) {

  public ModelPartRef head() {
    return part("head", manifest.head());
  }

  public ModelPartRef tail() {
    return part("tail", manifest.tail());
  }

  public ModelPartRef full() {
    return part("full", manifest.full());
  }

  /** The head's SHA-256 (32 bytes), carried by every FeatureFrame so a tail refuses foreign features. */
  public byte[] headSha256() {
    return HexFormat.of().parseHex(manifest.head().sha256());
  }

  /**
   * A path inside the model folder, or inside a sibling model folder of the same zoo as
   * {@code ../<id>/...} (a folder holding a model.yaml: models that share a teacher or evaluation
   * frames name them there instead of copying them); refuses absolute paths and paths that climb
   * anywhere else.
   */
  public Path resolve(String relative) {
    Path p = Path.of(relative);
    Path home = dir.normalize();
    Path resolved = dir.resolve(p).normalize();
    if (!p.isAbsolute() && resolved.startsWith(home)) return resolved;
    Path zoo = home.getParent();
    if (!p.isAbsolute() && zoo != null && resolved.startsWith(zoo) && zoo.relativize(resolved).getNameCount() >= 2
        && java.nio.file.Files.isRegularFile(zoo.resolve(zoo.relativize(resolved).getName(0)).resolve("model.yaml"))) {
      return resolved;
    }
    throw new IllegalArgumentException("path '" + relative + "' is outside the model folder " + dir
        + " and not in a sibling model folder (../<id>/...); use a path relative to the folder");
  }

  /** The learned codec's entropy tables (bottleneck.entropy_model), read and validated on each call; null for other codecs. */
  public dev.splitrt.codec.EntropyTables entropyTables() throws java.io.IOException {
    ModelManifest.EntropyModel e = manifest.bottleneck() == null ? null : manifest.bottleneck().entropyModel();
    return e == null ? null : dev.splitrt.codec.EntropyTables.read(resolve(e.file()));
  }

  private ModelPartRef part(String name, ModelManifest.Part p) {
    return new ModelPartRef(
        manifest.id(), name, resolve(p.file()), p.sha256(),
        new TensorSpec(p.input().name(), p.input().dims()),
        new TensorSpec(p.output().name(), p.output().dims()));
  }
}

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

  /** A path inside the model folder; refuses absolute paths and paths that climb out of it. */
  public Path resolve(String relative) {
    Path p = Path.of(relative);
    Path resolved = dir.resolve(p).normalize();
    if (p.isAbsolute() || !resolved.startsWith(dir.normalize())) {
      throw new IllegalArgumentException(
          "path '" + relative + "' is outside the model folder " + dir + "; use a path relative to the folder");
    }
    return resolved;
  }

  private ModelPartRef part(String name, ModelManifest.Part p) {
    return new ModelPartRef(
        manifest.id(), name, resolve(p.file()), p.sha256(),
        new TensorSpec(p.input().name(), p.input().dims()),
        new TensorSpec(p.output().name(), p.output().dims()));
  }
}

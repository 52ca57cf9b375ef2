package dev.splitrt.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One stored input and the outputs the exporting framework produced for it ({@code reference/vectors.json}):
 * lets any backend and the Java preprocessing prove they compute what the recipe computed, part by part.
 */
public record ReferenceVector(Path image, float[] input, float[] headOutput, float[] tailOutput, float[] fullOutput) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads every item of the model's reference file; sizes are checked against the manifest's shapes. */
  public static List<ReferenceVector> load(LoadedModel m) throws IOException {
    ModelManifest mf = m.manifest();
    if (mf.reference() == null) {
      throw new IOException(m.dir().resolve("model.yaml") + ": no 'reference' declared; fix: add reference: reference/vectors.json");
    }
    Path json = m.resolve(mf.reference());
    JsonNode items = JSON.readTree(json.toFile()).path("items");
    if (!items.isArray() || items.isEmpty()) {
      throw new IOException(json + ": no 'items' array; fix: regenerate it with the model's recipe (provenance.command)");
    }
    Path base = json.getParent();
    List<ReferenceVector> out = new ArrayList<>();
    for (JsonNode item : items) {
      out.add(new ReferenceVector(
          inside(m, base, json, item, "image"),
          floats(inside(m, base, json, item, "input"), mf.head().input().elementCount()),
          floats(inside(m, base, json, item, "head_output"), mf.head().output().elementCount()),
          floats(inside(m, base, json, item, "tail_output"), mf.tail().output().elementCount()),
          floats(inside(m, base, json, item, "full_output"), mf.full().output().elementCount())));
    }
    return List.copyOf(out);
  }

  private static Path inside(LoadedModel m, Path base, Path json, JsonNode item, String field) throws IOException {
    JsonNode v = item.get(field);
    if (v == null || !v.isTextual()) throw new IOException(json + ": an item lacks '" + field + "'; fix: regenerate the reference vectors");
    try {
      return m.resolve(m.dir().relativize(base.resolve(v.asText())).toString());
    } catch (IllegalArgumentException e) {
      throw new IOException(json + ": " + field + " '" + v.asText() + "' points outside the model folder; fix: use a file name beside vectors.json", e);
    }
  }

  /** Raw little-endian float32, exactly {@code count} values. */
  private static float[] floats(Path file, int count) throws IOException {
    long size = Files.size(file);
    if (size != 4L * count) {
      throw new IOException(file + ": " + size + " bytes, expected " + (4L * count) + " (" + count
          + " float32 from the manifest's shape); fix: regenerate the reference vectors or correct the shape");
    }
    ByteBuffer bytes = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(file)) {
      while (bytes.hasRemaining()) {
        if (ch.read(bytes) < 0) throw new IOException(file + ": shorter than " + size + " bytes while reading; fix: restore the file");
      }
    }
    float[] values = new float[count];
    bytes.flip();
    bytes.asFloatBuffer().get(values);
    return values;
  }
}

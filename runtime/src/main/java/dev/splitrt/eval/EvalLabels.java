package dev.splitrt.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * The ground truth of a model's evaluation frames ({@code eval/labels.json}, format in
 * {@code models/README.md}), read strictly so that a broken or incomplete evaluation set fails
 * loudly instead of quietly producing a different figure than the card's.
 */
public record EvalLabels(String task, List<String> classes, List<Item> items) {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

  public EvalLabels {
    Objects.requireNonNull(task, "task");
    classes = List.copyOf(classes);
    items = List.copyOf(items);
  }

  /**
   * One frame: its image file (relative to the labels file's folder) and either a class index
   * ({@code label}, classification; null for detection) or its boxes ({@code x1, y1, x2, y2, class}
   * in pixels of the image file; empty for classification).
   */
  public record Item(String file, Integer label, List<double[]> boxes) {
    public Item {
      Objects.requireNonNull(file, "file");
      boxes = boxes == null ? List.of() : List.copyOf(boxes);
    }
  }

  /**
   * Reads and checks the file: task classification or detection, non-empty class names, every item
   * with a file that exists next to the labels file and a label or boxes of the task with class
   * indices in range. Throws IOException naming the file (and item) that is missing or wrong.
   */
  public static EvalLabels read(Path labelsJson) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readString(labelsJson));
    } catch (NoSuchFileException e) {
      throw new IOException(labelsJson + ": evaluation labels file not found; check the model's eval.labels path", e);
    } catch (JsonProcessingException e) {
      throw new IOException(labelsJson + ": malformed JSON: " + e.getOriginalMessage(), e);
    }
    String where = labelsJson.toString();
    if (root == null || !root.isObject()) throw new IOException(where + ": expected a JSON object {task, classes, items}");
    onlyFields(root, where, List.of("task", "classes", "items"));
    String task = text(root, "task", where);
    if (!task.equals("classification") && !task.equals("detection")) {
      throw new IOException(where + ": task is '" + task + "'; expected classification or detection");
    }
    JsonNode cls = array(root, "classes", where);
    List<String> classes = new ArrayList<>();
    for (int i = 0; i < cls.size(); i++) {
      if (!cls.get(i).isTextual()) throw new IOException(where + ": classes[" + i + "] is not a string");
      classes.add(cls.get(i).asText());
    }
    if (classes.isEmpty()) throw new IOException(where + ": classes is empty; list one name per class");
    JsonNode its = array(root, "items", where);
    if (its.isEmpty()) throw new IOException(where + ": items is empty; an evaluation set needs frames");
    Path folder = labelsJson.toAbsolutePath().getParent();
    boolean detection = task.equals("detection");
    List<Item> items = new ArrayList<>(its.size());
    for (int i = 0; i < its.size(); i++) {
      JsonNode it = its.get(i);
      String at = where + ": items[" + i + "]";
      if (!it.isObject()) throw new IOException(at + " is not an object");
      String file = text(it, "file", at);
      at += " (" + file + ")";
      Path image = folder.resolve(file).normalize();
      if (!image.startsWith(folder) || !Files.isRegularFile(image)) {
        throw new IOException(at + ": image file " + image + " not found next to the labels file");
      }
      if (detection) {
        onlyFields(it, at, List.of("file", "boxes"));
        items.add(new Item(file, null, boxes(array(it, "boxes", at), at, classes.size())));
      } else {
        onlyFields(it, at, List.of("file", "label"));
        JsonNode l = it.get("label");
        if (l == null) throw new IOException(at + ": field 'label' is missing");
        if (!l.isIntegralNumber() || l.asInt() < 0 || l.asInt() >= classes.size()) {
          throw new IOException(at + ": label is " + l + "; expected a class index 0.." + (classes.size() - 1));
        }
        items.add(new Item(file, l.asInt(), List.of()));
      }
    }
    return new EvalLabels(task, classes, items);
  }

  private static List<double[]> boxes(JsonNode arr, String at, int classes) throws IOException {
    List<double[]> out = new ArrayList<>(arr.size());
    for (int j = 0; j < arr.size(); j++) {
      JsonNode b = arr.get(j);
      String bat = at + ": boxes[" + j + "]";
      if (!b.isArray() || b.size() != 5) throw new IOException(bat + " is " + b + "; expected [x1, y1, x2, y2, class]");
      double[] v = new double[5];
      for (int q = 0; q < 5; q++) {
        if (!b.get(q).isNumber()) throw new IOException(bat + "[" + q + "] is " + b.get(q) + "; expected a number");
        v[q] = b.get(q).asDouble();
        if (!Double.isFinite(v[q])) throw new IOException(bat + "[" + q + "] is not finite");
      }
      if (!b.get(4).isIntegralNumber() || v[4] < 0 || v[4] >= classes) {
        throw new IOException(bat + ": class is " + b.get(4) + "; expected a class index 0.." + (classes - 1));
      }
      if (v[2] < v[0] || v[3] < v[1]) throw new IOException(bat + " has x2 < x1 or y2 < y1; corners must be top-left, bottom-right");
      out.add(v);
    }
    return out;
  }

  private static void onlyFields(JsonNode node, String at, List<String> known) throws IOException {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!known.contains(f)) throw new IOException(at + ": unknown field '" + f + "'; known fields: " + known);
    }
  }

  private static String text(JsonNode node, String field, String at) throws IOException {
    JsonNode v = node.get(field);
    if (v == null) throw new IOException(at + ": field '" + field + "' is missing");
    if (!v.isTextual()) throw new IOException(at + ": field '" + field + "' is " + v + "; expected a string");
    return v.asText();
  }

  private static JsonNode array(JsonNode node, String field, String at) throws IOException {
    JsonNode v = node.get(field);
    if (v == null) throw new IOException(at + ": field '" + field + "' is missing");
    if (!v.isArray()) throw new IOException(at + ": field '" + field + "' is not an array");
    return v;
  }
}

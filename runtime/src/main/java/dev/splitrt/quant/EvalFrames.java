package dev.splitrt.quant;

import dev.splitrt.eval.EvalLabels;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
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
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A model's evaluation frames as head inputs, made the runtime's way (FrameSources reads the
 * folder sorted by file name, Preprocessor makes the tensor), each with its ground truth.
 */
final class EvalFrames {
  record Item(float[] input, ImageTransform transform, EvalLabels.Item truth) {}

  private EvalFrames() {}

  /** The first {@code limit} frames (all when {@code limit <= 0}), in labels order. */
  static List<Item> load(LoadedModel m, int limit) throws IOException {
    ModelManifest mf = m.manifest();
    EvalLabels labels = EvalLabels.read(m.resolve(mf.eval().labels()));
    Path dir = m.resolve(mf.eval().images());
    List<String> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.map(p -> p.getFileName().toString()).filter(n -> {
        String l = n.toLowerCase();
        return l.endsWith(".jpg") || l.endsWith(".jpeg") || l.endsWith(".png");
      }).sorted().toList();
    }
    List<String> wanted = labels.items().stream().map(EvalLabels.Item::file).toList();
    if (!files.equals(wanted)) {
      throw new IOException(dir + ": the images sorted by name are not the items of " + mf.eval().labels()
          + " in order; list the labels in file-name order");
    }
    int n = limit > 0 ? Math.min(limit, files.size()) : files.size();
    Preprocessor pre = new Preprocessor(mf.input());
    int size = 3 * mf.input().width() * mf.input().height();
    List<Item> out = new ArrayList<>(n);
    try (FrameSource src = FrameSources.open("dir:" + dir)) {
      for (int i = 0; i < n; i++) {
        Optional<Frame> f = src.next();
        if (f.isEmpty()) throw new IOException(dir + ": ended after " + i + " frames, expected " + n);
        try (Frame frame = f.get()) {
          FloatBuffer buf = FloatBuffer.allocate(size);
          ImageTransform t = pre.apply(frame, buf);
          out.add(new Item(buf.array(), t, labels.items().get(i)));
        }
      }
    }
    return out;
  }
}

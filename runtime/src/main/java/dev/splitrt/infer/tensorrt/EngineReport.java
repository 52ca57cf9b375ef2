package dev.splitrt.infer.tensorrt;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What {@code splitrt engine build} prints: where the engine is, whether it came from the cache,
 * how long the build took, its size, and the precision each layer runs in (from TensorRT's engine
 * inspector, whose raw JSON is {@code inspectorJson}). {@code buildMillis} is 0 for a cache hit;
 * {@code loadMillis} covers read + deserialize.
 */
public record EngineReport(Path file, boolean fromCache, long buildMillis, long loadMillis, long engineBytes,
                           String tensorrtVersion, String gpu, String sm, String precision, String profile,
                           Map<String, Integer> layerPrecisions, List<Layer> layers, String inspectorJson) {
  public EngineReport {
    layerPrecisions = Map.copyOf(layerPrecisions);
    layers = List.copyOf(layers);
  }

  /**
   * One engine layer: its name, TensorRT's layer type, the precision its kernel computes in (its first
   * input's data type; see {@link EngineInspection#parse}) and the data type of its first output.
   */
  public record Layer(String name, String type, String precision, String outputPrecision) {}
}

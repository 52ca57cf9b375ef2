package dev.splitrt.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.splitrt.codec.CodecConfig;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * A model's {@code model.yaml} (schema 1, documented in {@code models/README.md}), parsed into typed
 * records. Parsing checks types; {@link ModelRegistry} checks values and the ONNX files.
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record ModelManifest(
    int schema,
    String id,
    Family family,
    Task task,
    String description,
    Input input,
    Part head,
    Part tail,
    Part full,
    Bottleneck bottleneck,
    List<String> labels,
    Postprocess postprocess,
    Eval eval,
    String reference,
    Map<String, Object> metrics,
    Map<String, Object> provenance) {

  public enum Family {
    @JsonProperty("bottlefit") BOTTLEFIT,
    @JsonProperty("leyolo") LEYOLO
  }

  public enum Task {
    @JsonProperty("classification") CLASSIFICATION,
    @JsonProperty("detection") DETECTION
  }

  public enum ColorOrder {
    @JsonProperty("rgb") RGB,
    @JsonProperty("bgr") BGR
  }

  public enum ResizeMode {
    @JsonProperty("stretch") STRETCH,
    @JsonProperty("letterbox") LETTERBOX
  }

  /** How a camera frame becomes the head's input tensor: {@code x = (pixel*scale - mean[c]) / std[c]}. */
  public record Input(
      int width,
      int height,
      ColorOrder color,
      ResizeMode resize,
      @JsonProperty("pad_value") Integer padValue,
      double scale,
      List<Double> mean,
      List<Double> std,
      String layout) {}

  /** One named tensor and its static shape. */
  public record Tensor(String name, List<Integer> shape) {
    public int[] dims() {
      return shape.stream().mapToInt(Integer::intValue).toArray();
    }

    public int elementCount() {
      int n = 1;
      for (int d : shape) n = Math.multiplyExact(n, d);
      return n;
    }
  }

  /** One ONNX file of the model (head, tail or full) with its checksum and tensor signature. */
  public record Part(String file, String sha256, Tensor input, Tensor output) {}

  /**
   * A learned entropy bottleneck's integer tables ({@code entropy.json}, runtime/docs/feature-frame-v4.md §4):
   * present exactly when {@code codec.entropy} is {@code rans}.
   */
  public record EntropyModel(String file, String sha256, @JsonProperty("table_id") long tableId, int precision,
                             int channels) {}

  public record Bottleneck(CodecConfig codec, @JsonProperty("entropy_model") EntropyModel entropyModel) {
    public Bottleneck(CodecConfig codec) {
      this(codec, null);
    }

    /** The learned codec (FeatureFrame v4, rANS with the model's entropy tables). */
    public boolean learned() {
      return codec != null && "rans".equals(codec.entropy());
    }
  }

  public record Postprocess(
      String kind,
      String activation,
      @JsonProperty("top_k") Integer topK,
      String decode,
      List<Integer> strides,
      @JsonProperty("score_activation") String scoreActivation,
      @JsonProperty("score_threshold") Double scoreThreshold,
      @JsonProperty("eval_score_threshold") Double evalScoreThreshold,
      @JsonProperty("iou_threshold") Double iouThreshold,
      @JsonProperty("max_detections") Integer maxDetections) {}

  public record Eval(String images, String labels, String video) {}
}

package dev.splitrt.profile;

import dev.splitrt.model.ModelManifest;
import java.util.List;

/**
 * One device class (a {@code device-profiles/<name>.yaml}): what the hardware can do and the
 * pipeline defaults that suit it. Read through {@link DeviceProfiles}, which validates values.
 */
public record DeviceProfile(
    String name,
    String description,
    String board,
    String arch,
    Gpu gpu,
    List<String> precisions,
    int dlaCores,
    int memoryMb,
    Backend backend,
    Pipeline pipeline,
    Network network) {

  public enum Backend {
    /** TensorRT when it loads here, else ONNX Runtime. */
    auto,
    tensorrt,
    onnxruntime
  }

  /** Absent on CPU-only devices. {@code sm} is the CUDA compute capability, e.g. "8.7". */
  public record Gpu(String name, String sm) {}

  /** Defaults for the edge pipeline; a daemon config may override each. */
  public record Pipeline(double fpsCap, int queueDepth, int threads, ModelManifest.Codec codec) {}

  /** {@code maxPacketBytes}: the broker's limit on one MQTT packet (Mosquitto max_packet_size, AWS 128 KB). */
  public record Network(int uplinkKbps, int maxPacketBytes) {}
}

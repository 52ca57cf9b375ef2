package dev.splitrt.profile;

import dev.splitrt.infer.BackendPreference;
import dev.splitrt.codec.CodecConfig;
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
    BackendPreference backend,
    Pipeline pipeline,
    Network network,
    String soc,
    Software software,
    PowerMode powerMode,
    EngineBuild engine) {

  /** Absent on CPU-only devices. {@code sm} is the CUDA compute capability, e.g. "8.7". */
  public record Gpu(String name, String sm) {}

  /** Defaults for the edge pipeline; a daemon config may override each. */
  public record Pipeline(double fpsCap, int queueDepth, int threads, CodecConfig codec) {}

  /**
   * The software stack this profile was written for: JetPack release and the TensorRT range that
   * ships with it ("10.3"..."10.x"), CUDA runtime, and what of SplitRT really runs there: the glibc
   * of that JetPack's Ubuntu ({@link DeviceProfiles#JETPACK_GLIBC}), the build line whose natives
   * load on it, or {@code build: none} with {@code unsupported} saying why. {@code null} fields: not
   * applicable (x86 servers pick their own OS).
   */
  public record Software(String jetpack, String tensorrtMin, String tensorrtMax, String cuda,
                         String glibc, BuildLine build, String unsupported) {}

  /**
   * Which Maven build runs on a device. The linux-arm64 natives of each line need a glibc at least
   * as new as the device's (checked by JetsonGlibcTest against the jars themselves).
   */
  public enum BuildLine {
    /** {@code mvn -P jetson}: the JavaCPP 1.5.13 line (CUDA 13, TensorRT 10.15; OpenCV 4.13 needs glibc 2.35). */
    standard,
    /** {@code mvn -P jetson,jetpack6}: the JavaCPP 1.5.11 line (CUDA 12.6, TensorRT 10.6; OpenCV 4.10 needs glibc 2.29). */
    jetpack6,
    /** No build of SplitRT loads on this device; {@code software.unsupported} says why. */
    none
  }

  /** The power mode engines are built and benchmarked in ({@code sudo nvpmodel -m <nvpmodel>}). */
  public record PowerMode(int nvpmodel, String name, int watts) {}

  /**
   * TensorRT builder settings. Every field may be omitted ({@code null}): the backend's default
   * applies (GPU only, 1024 MB workspace, optimisation level 3, no timing cache file).
   * {@code dlaCore}: run layers on that DLA core, with GPU fallback when {@code gpuFallback} is not false.
   * {@code timingCache}: a file name (relative to the engine cache folder) or absolute path.
   */
  public record EngineBuild(Integer dlaCore, Boolean gpuFallback, Integer workspaceMb,
                            Integer builderOptimizationLevel, String timingCache) {}

  /** {@code maxPacketBytes}: the broker's limit on one MQTT packet (Mosquitto max_packet_size, AWS 128 KB). */
  public record Network(int uplinkKbps, int maxPacketBytes) {}
}

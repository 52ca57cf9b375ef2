package dev.splitrt.infer;

import dev.splitrt.profile.DeviceProfile;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the inference backend for a device profile from those registered through
 * {@link ServiceLoader}, so the edge and the tail runner never name an implementation class and a
 * device without TensorRT falls back to ONNX Runtime with one log line that says why.
 */
public final class Backends {
  private static final Logger LOG = LoggerFactory.getLogger(Backends.class);
  /** The order {@code auto} tries. */
  private static final List<String> AUTO_ORDER = List.of("tensorrt", "onnxruntime");

  private Backends() {}

  private static final class Registered {
    static final List<InferenceBackend> ALL = load();

    private static List<InferenceBackend> load() {
      List<InferenceBackend> list = new ArrayList<>();
      for (ServiceLoader.Provider<InferenceBackend> p : ServiceLoader.load(InferenceBackend.class, Backends.class.getClassLoader())
          .stream().toList()) {
        try {
          list.add(p.get());
        } catch (ServiceConfigurationError | LinkageError e) {
          LOG.warn("inference backend {} could not be created and is skipped: {}", p.type().getName(), e.toString());
        }
      }
      return List.copyOf(list);
    }
  }

  /** The registered backend with this name, available or not. */
  public static Optional<InferenceBackend> byName(String name) {
    return Registered.ALL.stream().filter(b -> b.name().equals(name)).findFirst();
  }

  /**
   * {@code auto}: the first available of tensorrt, onnxruntime; an explicit choice must be registered and
   * available. Logs one line naming the backend and why it was chosen.
   */
  public static InferenceBackend select(DeviceProfile.Backend preference) throws InferenceException {
    Objects.requireNonNull(preference, "preference");
    if (preference != DeviceProfile.Backend.auto) {
      String name = preference.name();
      InferenceBackend b = byName(name).orElseThrow(() -> new InferenceException(
          "inference backend '" + name + "' is not in this build (registered: " + names() + "); fix: set backend: auto "
              + "in the device profile or add the backend's module to the classpath"));
      Optional<String> why = b.unavailableReason();
      if (why.isPresent()) {
        throw new InferenceException("inference backend '" + name + "' cannot run here: " + why.get()
            + "; fix: set backend: auto in the device profile to fall back, or install what it needs");
      }
      LOG.info("inference backend: {} (requested by the device profile)", name);
      return b;
    }
    List<String> skipped = new ArrayList<>();
    for (String name : AUTO_ORDER) {
      Optional<InferenceBackend> b = byName(name);
      if (b.isEmpty()) {
        skipped.add(name + " not registered");
        continue;
      }
      Optional<String> why = b.get().unavailableReason();
      if (why.isPresent()) {
        skipped.add(name + " unavailable: " + why.get());
        continue;
      }
      LOG.info("inference backend: {} (auto{})", name, skipped.isEmpty() ? ": first choice" : "; " + String.join("; ", skipped));
      return b.get();
    }
    throw new InferenceException("no inference backend can run here (" + String.join("; ", skipped)
        + "); fix: put onnxruntime (com.microsoft.onnxruntime) on the classpath for this platform");
  }

  private static String names() {
    return Registered.ALL.isEmpty() ? "none" : String.join(", ", Registered.ALL.stream().map(InferenceBackend::name).toList());
  }
}

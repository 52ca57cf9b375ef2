package dev.splitrt.infer;

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
    static final Discovery FOUND = load(ServiceLoader.load(InferenceBackend.class, Backends.class.getClassLoader()));
    static final List<InferenceBackend> ALL = FOUND.backends();
  }

  /** What discovery found: the backends it could create, and one line per provider it had to skip. */
  record Discovery(List<InferenceBackend> backends, List<String> skipped) {}

  /**
   * Every provider that can be created, in the services file's order. A provider whose optional
   * library is missing (OnnxRuntimeBackend without the onnxruntime jar: NoClassDefFoundError while
   * ServiceLoader links the class, raised from the iterator itself, not from creating the instance)
   * is logged and skipped, and discovery goes on with the next one: one missing jar must never hide
   * the backends that are there. ServiceLoader's lazy iterator documents that it carries on past
   * such an error; {@code stream().toList()} would throw it out of the whole lookup.
   */
  static Discovery load(ServiceLoader<InferenceBackend> loader) {
    List<InferenceBackend> list = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    java.util.Iterator<InferenceBackend> it = loader.iterator();
    // Bounded so that a loader that keeps failing on the same entry cannot spin forever.
    for (int failures = 0; failures < 64; ) {
      try {
        if (!it.hasNext()) break;
        list.add(it.next());
      } catch (ServiceConfigurationError | LinkageError e) {
        failures++;
        String why = e.getCause() == null ? e.toString() : e.getMessage() + " (" + e.getCause() + ")";
        skipped.add(why);
        LOG.warn("inference backend skipped: {}; fix: put its library on the classpath if this backend is wanted", why);
      }
    }
    return new Discovery(List.copyOf(list), List.copyOf(skipped));
  }

  /** One line per registered provider that could not be created here (a missing optional jar), for diagnostics. */
  public static List<String> skipped() {
    return Registered.FOUND.skipped();
  }

  /** The registered backend with this name, available or not. */
  public static Optional<InferenceBackend> byName(String name) {
    return Registered.ALL.stream().filter(b -> b.name().equals(name)).findFirst();
  }

  /**
   * {@code auto}: the first available of tensorrt, onnxruntime; an explicit choice must be registered and
   * available. Logs one line naming the backend and why it was chosen.
   */
  public static InferenceBackend select(BackendPreference preference) throws InferenceException {
    Objects.requireNonNull(preference, "preference");
    if (preference != BackendPreference.auto) {
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

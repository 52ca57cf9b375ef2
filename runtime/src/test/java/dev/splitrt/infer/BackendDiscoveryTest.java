package dev.splitrt.infer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtException;
import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A missing optional backend jar must never kill backend discovery: the GPU host's hand-staged class path
 * (tools/gpu) has TensorRT but no onnxruntime jar, and a Jetson image may leave out either.
 */
class BackendDiscoveryTest {
  @Test
  void withoutTheOnnxRuntimeJarTheOtherBackendsAreStillDiscovered() throws Exception {
    Path ortJar = Path.of(OrtException.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<URL> urls = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!e.isEmpty() && !Path.of(e).toAbsolutePath().equals(ortJar.toAbsolutePath())) urls.add(Path.of(e).toUri().toURL());
    }
    // A fresh loader over this test's class path minus the onnxruntime jar: Backends, its services file and
    // both providers load from it, exactly as on a host where that jar is not staged.
    try (URLClassLoader noOrt = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
      assertThatThrownBy(() -> noOrt.loadClass("ai.onnxruntime.OrtException")).isInstanceOf(ClassNotFoundException.class);
      Class<?> backends = noOrt.loadClass(Backends.class.getName());
      assertThat(backends).isNotSameAs(Backends.class);

      Object trt = ((Optional<?>) backends.getMethod("byName", String.class).invoke(null, "tensorrt")).orElseThrow();
      assertThat(trt.getClass().getName()).isEqualTo("dev.splitrt.infer.tensorrt.TensorRtBackend");
      assertThat(trt.getClass().getMethod("name").invoke(trt)).isEqualTo("tensorrt");
      assertThat((Optional<?>) backends.getMethod("byName", String.class).invoke(null, "onnxruntime")).isEmpty();
      @SuppressWarnings("unchecked")
      List<String> skipped = (List<String>) backends.getMethod("skipped").invoke(null);
      assertThat(skipped).singleElement().asString()
          .contains("dev.splitrt.infer.OnnxRuntimeBackend").contains("ai/onnxruntime/OrtException");
    }
  }

  @Test
  void aServicesEntryThatNamesNoClassIsSkippedAndTheNextProviderIsStillCreated(@TempDir Path dir) throws Exception {
    Path services = dir.resolve("META-INF/services/" + InferenceBackend.class.getName());
    Files.createDirectories(services.getParent());
    Files.writeString(services, "dev.splitrt.infer.NoSuchBackend\n" + Fake.class.getName() + "\n");
    // The parent's services file comes first (tensorrt, onnxruntime), then this one: a broken entry, then a good one.
    try (URLClassLoader extra = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
      Backends.Discovery d = Backends.load(ServiceLoader.load(InferenceBackend.class, extra));
      assertThat(d.backends()).extracting(InferenceBackend::name).containsExactly("tensorrt", "onnxruntime", "fake");
      assertThat(d.skipped()).singleElement().asString().contains("dev.splitrt.infer.NoSuchBackend");
    }
  }

  /** A provider that needs nothing: it must still be found after the broken entry before it. */
  public static final class Fake implements InferenceBackend {
    public Fake() {}

    @Override
    public String name() {
      return "fake";
    }

    @Override
    public Optional<String> unavailableReason() {
      return Optional.of("test double");
    }

    @Override
    public InferenceSession open(ModelPartRef part, SessionOptions options) throws InferenceException {
      throw new InferenceException("test double");
    }
  }

  @Test
  void theRealClassPathSkipsNothing() {
    assertThat(Backends.skipped()).isEmpty();
    assertThat(Backends.byName("onnxruntime")).isPresent();
    assertThat(Backends.byName("tensorrt")).isPresent();
  }
}

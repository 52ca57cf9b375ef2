package dev.splitrt.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Python's onnx.checker (full_check, i.e. with shape inference), when a Python with the onnx
 * package is on this machine (Debian's python3-onnx 1.12 at /usr/bin/python3 here): there is no
 * ONNX checker in Java. Without one the calling test is skipped with the reason printed, unless
 * env CI=true, where that is a failure.
 */
final class OnnxChecker {
  private static final String SCRIPT = String.join("\n",
      "import sys, onnx",
      "bad = 0",
      "for p in sys.argv[1:]:",
      "    try:",
      "        onnx.checker.check_model(onnx.load(p), full_check=True)",
      "    except Exception as e:",
      "        bad += 1",
      "        print('FAIL', p, str(e).splitlines()[0])",
      "print('checked', len(sys.argv) - 1, 'models with onnx', onnx.__version__, 'failures', bad)",
      "sys.exit(1 if bad else 0)");

  private OnnxChecker() {}

  static String python() {
    for (String p : List.of("python3", "/usr/bin/python3")) {
      try {
        Process pr = new ProcessBuilder(p, "-c", "import onnx").redirectErrorStream(true).start();
        pr.getInputStream().readAllBytes();
        if (pr.waitFor(60, TimeUnit.SECONDS) && pr.exitValue() == 0) return p;
      } catch (IOException | InterruptedException e) {
        // try the next one
      }
    }
    return null;
  }

  /** Checks every model; fails listing the checker's message for each model it rejects. */
  static void check(Map<String, ModelProto> models, Path dir) throws Exception {
    String py = python();
    String why = "no Python with the onnx package (apt-get install python3-onnx): ONNX checker not run";
    if ("true".equals(System.getenv("CI"))) assertThat(py).as(why).isNotNull();
    Assumptions.assumeTrue(py != null, why);
    List<String> cmd = new ArrayList<>(List.of(py, "-c", SCRIPT));
    for (Map.Entry<String, ModelProto> e : models.entrySet()) {
      Path f = dir.resolve(e.getKey() + ".onnx");
      Onnx.write(e.getValue(), f);
      cmd.add(f.toString());
    }
    Process pr = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(pr.waitFor(300, TimeUnit.SECONDS)).as("the checker finished").isTrue();
    System.out.print(out);
    assertThat(pr.exitValue()).as("onnx.checker:\n%s", out).isZero();
    for (Map.Entry<String, ModelProto> e : models.entrySet()) Files.deleteIfExists(dir.resolve(e.getKey() + ".onnx"));
  }
}

package dev.splitrt.cli;

import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "models", mixinStandardHelpOptions = true,
    description = "List the model zoo, or validate one model (manifest, files, SHA-256, ONNX signatures) and show it.")
final class ModelsCommand implements Callable<Integer> {
  @Parameters(arity = "0..1", paramLabel = "ID", description = "A model to validate and describe.")
  String id;

  @Option(names = "--models", paramLabel = "DIR", description = "Model zoo folder (default: the repository's models/).")
  Path dir;

  @Override
  public Integer call() throws Exception {
    ModelRegistry registry = new ModelRegistry(dir != null ? dir : RepoPaths.models());
    if (id == null) {
      for (String m : registry.ids()) {
        LoadedModel lm = registry.load(m);
        ModelManifest mf = lm.manifest();
        System.out.printf("%-22s %-10s %-15s %4dx%-4d bottleneck %s%n", m, mf.family().name().toLowerCase(), mf.task().name().toLowerCase(),
            mf.input().width(), mf.input().height(), mf.head().output().shape());
      }
      return 0;
    }
    LoadedModel lm = registry.load(id);
    ModelManifest mf = lm.manifest();
    System.out.println(mf.id() + ": " + mf.description());
    System.out.println("  folder      " + lm.dir());
    System.out.println("  head        " + mf.head().file() + " " + mf.head().input() + " -> " + mf.head().output() + "  sha256 " + mf.head().sha256());
    System.out.println("  tail        " + mf.tail().file() + " " + mf.tail().input() + " -> " + mf.tail().output() + "  sha256 " + mf.tail().sha256());
    System.out.println("  codec       " + mf.bottleneck().codec());
    System.out.println("  metrics     " + mf.metrics());
    System.out.println("  valid: manifest, files, checksums and ONNX signatures agree");
    return 0;
  }
}

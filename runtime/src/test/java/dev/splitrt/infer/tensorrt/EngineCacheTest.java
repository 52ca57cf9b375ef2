package dev.splitrt.infer.tensorrt;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineCacheTest {
  private static final EngineKey KEY = new EngineKey("ab", "10.6.0.26", "GPU", "9.0", "fp32", "p", "h");

  @TempDir Path dir;

  @Test
  void returnsWhatWasWritten() throws Exception {
    EngineCache c = new EngineCache(dir.resolve("engines"));
    Path f = c.path(KEY, "m", "head");
    byte[] plan = {1, 2, 3, 4, 5};
    c.write(f, plan, KEY);
    assertThat(c.read(f)).hasValueSatisfying(b -> assertThat(b).containsExactly(plan));
    assertThat(Files.readString(EngineCache.sidecar(f, ".key"))).isEqualTo(KEY.canonical());
    try (var s = Files.list(c.dir())) {
      assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void deletesATruncatedEngineAndReportsItAbsent() throws Exception {
    EngineCache c = new EngineCache(dir);
    Path f = c.path(KEY, "m", "head");
    c.write(f, new byte[100], KEY);
    Files.write(f, Arrays.copyOf(new byte[100], 50));
    assertThat(c.read(f)).isEmpty();
    assertThat(f).doesNotExist();
    assertThat(EngineCache.sidecar(f, ".sha256")).doesNotExist();
  }

  @Test
  void deletesAnEngineWithoutChecksum() throws Exception {
    EngineCache c = new EngineCache(dir);
    Path f = c.path(KEY, "m", "tail");
    Files.write(f, new byte[] {9});
    assertThat(c.read(f)).isEmpty();
    assertThat(f).doesNotExist();
  }

  @Test
  void absentEngineIsJustAbsent() {
    EngineCache c = new EngineCache(dir.resolve("never-created"));
    assertThat(c.read(c.path(KEY, "m", "head"))).isEmpty();
  }
}

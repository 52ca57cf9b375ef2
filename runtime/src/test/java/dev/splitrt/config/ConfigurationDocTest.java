package dev.splitrt.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.splitrt.edge.EdgeDaemon;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * runtime/docs/configuration.md against the code: the key lists are derived from the config records
 * (a key added to a record must be documented, a documented key must exist), and the JSON examples
 * parse and carry what the daemons write.
 */
class ConfigurationDocTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static String doc() throws Exception {
    return Files.readString(Path.of(System.getProperty("splitrt.repo"), "runtime", "docs", "configuration.md"));
  }

  /** The first ```yaml block after {@code heading}. */
  private static String yamlBlock(String doc, String heading) {
    int h = doc.indexOf(heading);
    assertThat(h).as("heading %s", heading).isGreaterThanOrEqualTo(0);
    int b = doc.indexOf("```yaml\n", h) + 8;
    return doc.substring(b, doc.indexOf("```", b));
  }

  private static final Pattern KEY = Pattern.compile("(?:^\\s*|[{,]\\s*)([a-z][a-z0-9_]*):(?!//)");

  /** Every key the block names, in block and inline-map style; comments left out. */
  static Set<String> keys(String yaml) {
    Set<String> out = new TreeSet<>();
    for (String line : yaml.split("\n")) {
      int hash = line.indexOf('#');
      Matcher m = KEY.matcher(hash >= 0 ? line.substring(0, hash) : line);
      while (m.find()) out.add(m.group(1));
    }
    return out;
  }

  /** The YAML keys of {@code record} and of every record it holds (lists of records too), snake_case as Yaml reads them. */
  static Set<String> recordKeys(Class<?> record) {
    Set<String> out = new TreeSet<>();
    collect(record, out, new ArrayList<>());
    return out;
  }

  private static void collect(Class<?> c, Set<String> out, List<Class<?>> seen) {
    if (!c.isRecord() || seen.contains(c)) return;
    seen.add(c);
    PropertyNamingStrategies.SnakeCaseStrategy snake = new PropertyNamingStrategies.SnakeCaseStrategy();
    for (RecordComponent rc : c.getRecordComponents()) {
      out.add(snake.translate(rc.getName()));
      collect(rc.getType(), out, seen);
      Type g = rc.getGenericType();
      if (g instanceof ParameterizedType p) for (Type a : p.getActualTypeArguments()) if (a instanceof Class<?> k) collect(k, out, seen);
    }
  }

  @Test
  void theEdgeKeyListIsTheEdgeConfigRecord() throws Exception {
    assertThat(keys(yamlBlock(doc(), "## Edge"))).isEqualTo(recordKeys(EdgeConfig.class));
  }

  @Test
  void theTailKeyListIsTheTailConfigRecord() throws Exception {
    // The tail block writes broker: {url: ...} and says "same keys as the edge's": the broker's keys are listed once, at the edge.
    Set<String> tail = recordKeys(TailConfig.class);
    Set<String> documented = keys(yamlBlock(doc(), "## Tail"));
    Set<String> broker = recordKeys(BrokerConfig.class);
    Set<String> own = new TreeSet<>(tail);
    own.removeAll(broker);
    own.add("url");
    assertThat(documented).containsAll(own);
    assertThat(tail).containsAll(documented);
    assertThat(keys(yamlBlock(doc(), "## Edge"))).containsAll(broker);
  }

  @Test
  void theKeyReaderSeesInlineMapsAndSkipsUrlsAndComments() {
    assertThat(keys("a_b: {c: 1, d_e: tcp://h:1}   # f: no\n  g: x\n")).containsExactly("a_b", "c", "d_e", "g");
  }

  private static JsonNode example(String doc, String marker) throws Exception {
    int b = doc.indexOf("<!-- " + marker + ":begin -->");
    int e = doc.indexOf("<!-- " + marker + ":end -->");
    assertThat(b).as(marker).isGreaterThanOrEqualTo(0);
    String block = doc.substring(b, e);
    return JSON.readTree(block.substring(block.indexOf("```json") + 7, block.lastIndexOf("```")));
  }

  private static Set<String> fields(JsonNode n) {
    Set<String> out = new TreeSet<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  @Test
  void theLastWillExampleHasTheFieldsTheDaemonRegisters() throws Exception {
    JsonNode will = JSON.readTree(new String(EdgeDaemon.will("demo", "cam-01").payload(), StandardCharsets.UTF_8));
    JsonNode doc = example(doc(), "status-will");
    assertThat(fields(doc)).isEqualTo(fields(will)).containsExactlyInAnyOrder("state", "device", "ts_ms");
    assertThat(doc.get("state").asText()).isEqualTo(will.get("state").asText()).isEqualTo("offline");
    JsonNode online = example(doc(), "status-online");
    assertThat(fields(online)).isEqualTo(Set.of("state", "device", "model", "backend", "ts_ms"));
    // The will is made before the first connect, so its ts_ms is older than the online status.
    assertThat(doc.get("ts_ms").asLong()).isLessThan(online.get("ts_ms").asLong());
  }

  @Test
  void theResultExampleShowsMillisecondResolutionWallClocks() throws Exception {
    JsonNode r = example(doc(), "result");
    assertThat(fields(r)).containsExactlyInAnyOrder("device", "model", "sequence", "epoch", "capture_us", "received_us", "done_us",
        "decode_ms", "tail_ms", "post_ms", "feature_bytes", "runner", "backend", "prediction");
    assertThat(r.get("received_us").asLong() % 1000).isZero();
    assertThat(r.get("done_us").asLong() % 1000).isZero();
  }
}

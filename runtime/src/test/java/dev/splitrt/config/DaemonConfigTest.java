package dev.splitrt.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonConfigTest {
  private static final String EDGE = "device_id: cam-01\nfleet: demo\nmodel: fs-bottlefit-cls\nprofile: x86-64-cpu\n"
      + "source: models/fs-bottlefit-cls/eval\nbroker: {url: tcp://127.0.0.1:1883}\n";

  @Test
  void aMinimalEdgeConfigParsesWithDefaults(@TempDir Path dir) throws Exception {
    EdgeConfig c = EdgeConfig.read(write(dir, EDGE));
    assertThat(c.deviceId()).isEqualTo("cam-01");
    assertThat(c.broker().outbox()).isEqualTo(8L << 20);
    assertThat(c.broker().backoffMin(1000)).isEqualTo(1000);
    assertThat(c.pipeline()).isNull();
  }

  @Test
  void everyBadEdgeValueIsNamedWithItsFix(@TempDir Path dir) {
    String bad = "device_id: 'cam 01'\nfleet: demo\nmodel: Fs_Bad\nprofile: x86-64-cpu\nsource: ''\n"
        + "broker: {url: 'tcp://h:1883', max_inflight: 0, outbox_bytes: 10}\npipeline: {queue_depth: 0, fps_cap: -1}\nmetrics_port: 70000\n";
    assertThatThrownBy(() -> EdgeConfig.read(write(dir, bad))).isInstanceOf(ConfigException.class)
        .hasMessageContaining("edge.yaml")
        .hasMessageContaining("'device_id'").hasMessageContaining("'model'").hasMessageContaining("'source'")
        .hasMessageContaining("'broker.max_inflight'").hasMessageContaining("'broker.outbox_bytes'")
        .hasMessageContaining("'pipeline.queue_depth'").hasMessageContaining("'pipeline.fps_cap'").hasMessageContaining("'metrics_port'");
  }

  @Test
  void tlsNeedsATlsUrlAndCertAndKeyGoTogether(@TempDir Path dir) {
    String tls = EDGE.replace("broker: {url: tcp://127.0.0.1:1883}", "broker: {url: tcp://127.0.0.1:1883, tls: {ca_file: ca.pem, cert_file: c.pem}}");
    assertThatThrownBy(() -> EdgeConfig.read(write(dir, tls))).hasMessageContaining("ssl://")
        .hasMessageContaining("'broker.tls.cert_file' and 'broker.tls.key_file' go together");
  }

  @Test
  void missingBrokerSectionSaysWhatToWrite(@TempDir Path dir) {
    assertThatThrownBy(() -> EdgeConfig.read(write(dir, EDGE.replace("broker: {url: tcp://127.0.0.1:1883}\n", ""))))
        .hasMessageContaining("'broker' section is missing; e.g. broker: {url: tcp://127.0.0.1:1883}");
  }

  @Test
  void tailConfigChecksModelsWorkersAndUnknownKeys(@TempDir Path dir) throws Exception {
    TailConfig ok = TailConfig.read(write(dir, "fleet: demo\ngroup: tail\nmodels: [fs-bottlefit-cls]\nbroker: {url: mqtt://b}\n"));
    assertThat(ok.workerCount()).isEqualTo(1);
    assertThat(ok.evaluationMode()).isFalse();
    assertThatThrownBy(() -> TailConfig.read(write(dir, "fleet: demo\ngroup: tail\nmodels: []\nbroker: {url: mqtt://b}\nworkers: 0\n")))
        .hasMessageContaining("'models' must list").hasMessageContaining("'workers' must be 1..64");
    assertThatThrownBy(() -> TailConfig.read(write(dir, "fleet: demo\ngroup: tail\nmodels: [m]\nbroker: {url: mqtt://b}\nworker: 2\n")))
        .hasMessageContaining("unknown field 'worker'").hasMessageContaining("workers");
  }

  private static Path write(Path dir, String text) throws Exception {
    Path f = dir.resolve(text.startsWith("device_id") || text.contains("source") ? "edge.yaml" : "tail.yaml");
    Files.writeString(f, text);
    return f;
  }
}

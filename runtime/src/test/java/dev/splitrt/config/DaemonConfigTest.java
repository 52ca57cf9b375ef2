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
  void aSpoolSectionParsesWithTheDocumentedDefaults(@TempDir Path dir) throws Exception {
    EdgeConfig c = EdgeConfig.read(write(dir, EDGE + "spool: {dir: /var/lib/splitrt/spool}\n"));
    dev.splitrt.spool.SpoolSettings s = c.spool().settings();
    assertThat(s.dir()).isEqualTo(Path.of("/var/lib/splitrt/spool"));
    assertThat(s.maxBytes()).isEqualTo(64L << 20);
    assertThat(s.segmentBytes()).isEqualTo(4L << 20);
    assertThat(s.maxAge()).isEqualTo(java.time.Duration.ofSeconds(1800));
    assertThat(s.fsync()).isEqualTo(dev.splitrt.spool.SpoolSettings.Fsync.INTERVAL);
    assertThat(s.fsyncInterval()).isEqualTo(java.time.Duration.ofMillis(50));
    assertThat(s.fullPolicy()).isEqualTo(dev.splitrt.spool.SpoolSettings.FullPolicy.BLOCK);
    assertThat(c.spool().windowOrDefault()).isEqualTo(64);
    assertThat(c.spool().resultTimeout()).isEqualTo(java.time.Duration.ofSeconds(5));
    assertThat(c.spool().resultTimeoutMax()).isEqualTo(java.time.Duration.ofSeconds(60));
    assertThat(c.spool().healthMaxWait()).isEqualTo(java.time.Duration.ofSeconds(30));
    EdgeConfig all = EdgeConfig.read(write(dir, EDGE + "spool: {dir: s, max_bytes: 1048576, segment_bytes: 65536, "
        + "max_age_seconds: 60, fsync: always, fsync_interval_ms: 10, full_policy: drop_oldest, window: 8, "
        + "result_timeout_ms: 1000, result_timeout_max_ms: 4000, health_max_wait_ms: 2000}\n"));
    assertThat(all.spool().settings().fsync()).isEqualTo(dev.splitrt.spool.SpoolSettings.Fsync.ALWAYS);
    assertThat(all.spool().settings().fullPolicy()).isEqualTo(dev.splitrt.spool.SpoolSettings.FullPolicy.DROP_OLDEST);
    assertThat(all.spool().resultTimeoutMax()).isEqualTo(java.time.Duration.ofSeconds(4));
  }

  @Test
  void theSpoolIsOnByDefaultInTheStateDirectory(@TempDir Path dir) throws Exception {
    EdgeConfig none = EdgeConfig.read(write(dir, EDGE));
    assertThat(none.stateDirectory()).isEqualTo(Path.of("/var/lib/splitrt/cam-01"));
    assertThat(none.deliverySpool()).as("no spool section: the spool is on").isNotNull();
    assertThat(none.deliverySpool().settings().dir()).isEqualTo(Path.of("/var/lib/splitrt/cam-01/spool"));
    assertThat(none.deliverySpool().settings().fsync()).isEqualTo(dev.splitrt.spool.SpoolSettings.Fsync.INTERVAL);
    EdgeConfig state = EdgeConfig.read(write(dir, EDGE + "state_dir: /data/edge\nspool: {window: 8}\n"));
    assertThat(state.deliverySpool().settings().dir()).isEqualTo(Path.of("/data/edge/spool"));
    assertThat(state.deliverySpool().windowOrDefault()).isEqualTo(8);
    EdgeConfig own = EdgeConfig.read(write(dir, EDGE + "state_dir: /data/edge\nspool: {dir: /flash/spool}\n"));
    assertThat(own.deliverySpool().settings().dir()).isEqualTo(Path.of("/flash/spool"));
    EdgeConfig off = EdgeConfig.read(write(dir, EDGE + "spool: {enabled: false}\n"));
    assertThat(off.deliverySpool()).as("only enabled: false turns it off").isNull();
    assertThatThrownBy(() -> EdgeConfig.read(write(dir, EDGE + "state_dir: ''\n"))).hasMessageContaining("'state_dir' is empty");
  }

  @Test
  void everyBadSpoolValueIsNamedWithItsFix(@TempDir Path dir) {
    String bad = EDGE + "spool: {max_bytes: 100, fsync: sometimes, full_policy: panic, window: 0, result_timeout_ms: 5, "
        + "max_age_seconds: 0}\n";
    assertThatThrownBy(() -> EdgeConfig.read(write(dir, bad))).isInstanceOf(ConfigException.class)
        .hasMessageContaining("'spool.fsync' is 'sometimes'; write always, interval or never")
        .hasMessageContaining("'spool.full_policy'").hasMessageContaining("'spool.max_bytes'")
        .hasMessageContaining("'spool.window'").hasMessageContaining("'spool.result_timeout_ms'")
        .hasMessageContaining("'spool.max_age_seconds'");
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

  @Test
  void reassemblyBoundsHaveDefaultsAndBadValuesAreNamed(@TempDir Path dir) throws Exception {
    String base = "fleet: demo\ngroup: tail\nmodels: [fs-bottlefit-cls]\nbroker: {url: mqtt://b}\n";
    TailConfig d = TailConfig.read(write(dir, base));
    assertThat(d.reassemblyByteLimit()).isEqualTo(32L << 20);
    assertThat(d.reassemblySetLimit()).isEqualTo(256);
    assertThat(d.chunkTimeout()).isEqualTo(java.time.Duration.ofSeconds(30));
    TailConfig set = TailConfig.read(write(dir, base + "reassembly_bytes: 1048576\nreassembly_sets: 8\nchunk_timeout_seconds: 5\n"));
    assertThat(set.reassemblyByteLimit()).isEqualTo(1L << 20);
    assertThat(set.reassemblySetLimit()).isEqualTo(8);
    assertThat(set.chunkTimeout()).isEqualTo(java.time.Duration.ofSeconds(5));
    assertThatThrownBy(() -> TailConfig.read(write(dir, base + "reassembly_bytes: 100\nreassembly_sets: 0\nchunk_timeout_seconds: 0\n")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("tail.yaml")
        .hasMessageContaining("'reassembly_bytes' must be 65536..").hasMessageContaining("'reassembly_sets' must be 1..65535")
        .hasMessageContaining("'chunk_timeout_seconds' must be 1..3600");
  }

  private static Path write(Path dir, String text) throws Exception {
    Path f = dir.resolve(text.startsWith("device_id") || text.contains("source") ? "edge.yaml" : "tail.yaml");
    Files.writeString(f, text);
    return f;
  }
}

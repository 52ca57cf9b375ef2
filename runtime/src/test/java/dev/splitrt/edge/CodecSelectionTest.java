package dev.splitrt.edge;

import dev.splitrt.codec.CodecConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.config.BrokerConfig;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.profile.DeviceProfile;
import dev.splitrt.profile.DeviceProfiles;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Which codec an edge sends with: the daemon config's, else the device profile's, else the model's measured default. */
class CodecSelectionTest {
  private static final Path REPO = Path.of(System.getProperty("splitrt.repo"));

  private static EdgeConfig config(CodecConfig override) {
    return new EdgeConfig("cam-1", "demo", "fs-bottlefit-cls", null, "x86-64-cpu", null, "models/fs-bottlefit-cls/eval",
        BrokerConfig.of("tcp://127.0.0.1:1883"), override == null ? null
        : new EdgeConfig.PipelineOverrides(null, null, null, override), null, null, null, null);
  }

  @Test
  void shippedProfilesLeaveTheCodecToEachModel() throws Exception {
    DeviceProfiles profiles = new DeviceProfiles(REPO.resolve("device-profiles"));
    ModelRegistry models = new ModelRegistry(REPO.resolve("models"));
    for (String name : new String[] {"x86-64-cpu", "jetson-nano", "jetson-orin-nano-8gb", "server-h100"}) {
      DeviceProfile p = profiles.load(name);
      assertThat(p.pipeline().codec()).as("%s pipeline.codec", name).isNull();
      for (String id : models.ids()) {
        LoadedModel m = models.load(id);
        if (m.manifest().bottleneck().learned()) {
          // the learned codec runs through splitrt eval only; the daemons refuse it with a clear message
          assertThatThrownBy(() -> EdgeDaemon.settings(config(null), p, m)).hasMessageContaining("learned entropy bottleneck");
          continue;
        }
        assertThat(EdgeDaemon.settings(config(null), p, m).codec()).as("%s on %s", id, name)
            .isEqualTo(CodecSpec.of(m.manifest().bottleneck().codec()));
      }
    }
  }

  @Test
  void configOverridesProfileWhichOverridesTheManifest() throws Exception {
    LoadedModel m = new ModelRegistry(REPO.resolve("models")).load("fs-bottlefit-cls");
    DeviceProfile base = new DeviceProfiles(REPO.resolve("device-profiles")).load("x86-64-cpu");
    CodecConfig profileCodec = new CodecConfig(6, "per_channel", true, "deflate");
    DeviceProfile.Pipeline pp = base.pipeline();
    DeviceProfile withCodec = new DeviceProfile(base.name(), base.description(), base.board(), base.arch(), base.gpu(),
        base.precisions(), base.dlaCores(), base.memoryMb(), base.backend(),
        new DeviceProfile.Pipeline(pp.fpsCap(), pp.queueDepth(), pp.threads(), profileCodec), base.network(), base.soc(),
        base.software(), base.powerMode(), base.engine());
    assertThat(EdgeDaemon.settings(config(null), withCodec, m).codec()).isEqualTo(CodecSpec.of(profileCodec));
    CodecConfig configCodec = new CodecConfig(2, "three_range", false, "zstd");
    assertThat(EdgeDaemon.settings(config(configCodec), withCodec, m).codec()).isEqualTo(CodecSpec.of(configCodec));
    assertThat(EdgeDaemon.settings(config(configCodec), base, m).codec()).isEqualTo(CodecSpec.of(configCodec));
  }
}

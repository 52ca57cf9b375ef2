package dev.splitrt.provision;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.splitrt.config.ConfigException;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.config.Yaml;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelException;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import dev.splitrt.profile.DeviceProfiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything one device needs, in one signed tar.gz: its edge config (a valid {@link EdgeConfig}
 * with paths relative to the install folder), device profile, model (manifest, graphs, reference
 * vectors), CA certificate, its own certificate and key (mode 0600), a systemd unit, and
 * {@code MANIFEST.sha256} signed by the fleet CA ({@code MANIFEST.sha256.sig}). The bundle file
 * itself is written 0600: it holds the device key.
 */
public final class DeviceBundle {
  private static final Logger log = LoggerFactory.getLogger(DeviceBundle.class);
  static final String MANIFEST = "MANIFEST.sha256";
  static final String SIGNATURE = "MANIFEST.sha256.sig";
  static final String META = "bundle.yaml";
  static final String CONFIG = "config/edge.yaml";
  static final String KEY = "tls/device.key";
  static final String CERT = "tls/device.pem";
  static final String CA = "tls/ca.pem";
  static final String UNIT = "systemd/splitrt-edge.service";
  /** The device's state folder under the install root (the spool); made by the installer, writable by the unit. */
  public static final String STATE = "state";

  /**
   * What to provision. {@code source}: the frame source URI on the device; {@code installRoot}: where
   * {@code install} puts it (the systemd unit refers to it); {@code launcher}: the {@code splitrt}
   * command on the device; {@code serviceUser}: the unit's User= (the key must belong to it).
   */
  public record Spec(String deviceId, String model, String profile, String brokerUrl, String source, Duration validity,
                     Path modelsDir, Path profilesDir, String installRoot, String launcher, String serviceUser) {
    public static Spec of(String deviceId, String model, String profile, String brokerUrl, Path modelsDir, Path profilesDir) {
      return new Spec(deviceId, model, profile, brokerUrl, "v4l2:///dev/video0", FleetCa.DEFAULT_LEAF_VALIDITY, modelsDir, profilesDir,
          "/opt/splitrt", "/usr/local/bin/splitrt", "splitrt");
    }

    public Spec withSource(String s) {
      return new Spec(deviceId, model, profile, brokerUrl, s, validity, modelsDir, profilesDir, installRoot, launcher, serviceUser);
    }

    public Spec withValidity(Duration v) {
      return new Spec(deviceId, model, profile, brokerUrl, source, v, modelsDir, profilesDir, installRoot, launcher, serviceUser);
    }
  }

  /** The bundle written, the certificate in it, and the names of its files. */
  public record Built(Path bundle, FleetCa.Issued certificate, List<String> files) {}

  record Meta(int format, String deviceId, String fleet, String model, String profile, String created, String certSerial,
              String certNotAfter) {}

  private DeviceBundle() {}

  /** Issues the device certificate and writes {@code outDir/<id>.tar.gz}. */
  public static Built build(FleetCa ca, Spec spec, Path outDir) throws ProvisionException {
    String u = spec.brokerUrl() == null ? "" : spec.brokerUrl().toLowerCase(Locale.ROOT);
    if (!u.startsWith("ssl://") && !u.startsWith("mqtts://")) {
      throw new ProvisionException("broker url '" + spec.brokerUrl() + "' is not TLS; a provisioned device uses mutual TLS: give mqtts://host:8883");
    }
    LoadedModel model;
    try {
      model = new ModelRegistry(spec.modelsDir()).load(spec.model());
      ReferenceVector.load(model);
      new DeviceProfiles(spec.profilesDir()).load(spec.profile());
    } catch (ModelException | ConfigException e) {
      throw new ProvisionException(e.getMessage(), e);
    } catch (IOException e) {
      throw new ProvisionException("model " + spec.model() + ": reference vectors unreadable (" + e.getMessage()
          + "); 'verify' needs them: regenerate them with the model's recipe", e);
    }
    Path stage = null;
    try {
      Files.createDirectories(outDir);
      stage = Files.createTempDirectory(outDir, ".stage-" + spec.deviceId() + "-", java.nio.file.attribute.PosixFilePermissions.asFileAttribute(Pki.OWNER_DIR));
      FleetCa.Issued cert = ca.issue(FleetCa.Role.DEVICE, spec.deviceId(), List.of(), spec.validity(), stage);
      List<Tar.Entry> entries = new ArrayList<>();
      String modelRoot = "models/" + spec.model() + "/";
      String config = edgeYaml(ca.fleet(), spec, modelRoot);
      try {
        Yaml.parse(config, CONFIG, EdgeConfig.class).validate(CONFIG);
      } catch (ConfigException e) {
        throw new ProvisionException("the generated edge config is not valid (" + e.getMessage() + "); fix the values given", e);
      }
      Meta meta = new Meta(1, spec.deviceId(), ca.fleet(), spec.model(), spec.profile(), Instant.now().toString(), cert.serialHex(),
          cert.notAfter().toString());
      entries.add(new Tar.Entry(META, 0644, Tar.bytes(Yaml.mapper().writeValueAsString(meta))));
      entries.add(new Tar.Entry(CONFIG, 0644, Tar.bytes(config)));
      entries.add(new Tar.Entry("profiles/" + spec.profile() + ".yaml", 0644, Files.readAllBytes(spec.profilesDir().resolve(spec.profile() + ".yaml"))));
      addModel(entries, model, modelRoot);
      entries.add(new Tar.Entry(CA, 0644, Files.readAllBytes(ca.caCertFile())));
      entries.add(new Tar.Entry(CERT, 0644, Files.readAllBytes(cert.certFile())));
      entries.add(new Tar.Entry(KEY, 0600, Files.readAllBytes(cert.keyFile())));
      entries.add(new Tar.Entry(UNIT, 0644, Tar.bytes(unit(ca.fleet(), spec))));
      StringBuilder manifest = new StringBuilder();
      for (Tar.Entry e : entries) manifest.append(Pki.sha256(e.data())).append("  ").append(e.name()).append('\n');
      byte[] manifestBytes = Tar.bytes(manifest.toString());
      entries.add(new Tar.Entry(MANIFEST, 0644, manifestBytes));
      entries.add(new Tar.Entry(SIGNATURE, 0644, Tar.bytes(Base64.getEncoder().encodeToString(ca.sign(manifestBytes)) + "\n")));
      Path bundle = outDir.resolve(spec.deviceId() + ".tar.gz");
      Path tmp = stage.resolve("bundle.tar.gz");
      Tar.write(tmp, entries, Instant.now().getEpochSecond());
      Files.setPosixFilePermissions(tmp, Pki.OWNER_ONLY);
      Files.move(tmp, bundle, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      log.info("device {}: bundle {} ({} files, {} bytes, mode 0600: it holds the device key)", spec.deviceId(), bundle, entries.size(),
          Files.size(bundle));
      return new Built(bundle, cert, entries.stream().map(Tar.Entry::name).toList());
    } catch (IOException e) {
      throw new ProvisionException("cannot write the bundle for '" + spec.deviceId() + "' into " + outDir + ": " + e.getMessage(), e);
    } finally {
      if (stage != null) deleteTree(stage);
    }
  }

  /** The device's edge config; every path is relative to the install folder (the unit's WorkingDirectory). */
  static String edgeYaml(String fleet, Spec spec, String modelRoot) {
    return "# SplitRT edge config for device " + spec.deviceId() + " (fleet " + fleet + "), written by 'splitrt provision device'.\n"
        + "# Paths are relative to the install folder: run from there (the systemd unit sets WorkingDirectory).\n"
        + "device_id: " + spec.deviceId() + "\n"
        + "fleet: " + fleet + "\n"
        + "model: " + spec.model() + "\n"
        + "models_dir: models\n"
        + "profile: " + spec.profile() + "\n"
        + "profiles_dir: profiles\n"
        + "source: " + quote(spec.source()) + "\n"
        + "broker:\n"
        + "  url: " + quote(spec.brokerUrl()) + "\n"
        + "  client_id: " + spec.deviceId() + "\n"
        + "  tls: {ca_file: " + CA + ", cert_file: " + CERT + ", key_file: " + KEY + "}\n"
        + "# Outside the versioned install, so it survives upgrades and rollbacks: the spool (STATE_DIR/spool) and its\n"
        + "# boot epoch. Every accepted feature stays there until its result arrives (runtime/docs/delivery.md).\n"
        + "state_dir: " + spec.installRoot() + "/" + STATE + "\n";
  }

  static String unit(String fleet, Spec spec) {
    String root = spec.installRoot();
    return "# systemd unit for the SplitRT edge daemon of device " + spec.deviceId() + " (fleet " + fleet + ").\n"
        + "# Installed by 'splitrt provision install'; copy or link it to /etc/systemd/system/ and 'systemctl enable --now'.\n"
        + "[Unit]\n"
        + "Description=SplitRT edge daemon (device " + spec.deviceId() + ", fleet " + fleet + ")\n"
        + "Wants=network-online.target\n"
        + "After=network-online.target\n"
        + "StartLimitIntervalSec=300\n"
        + "StartLimitBurst=10\n"
        + "\n"
        + "[Service]\n"
        + "Type=simple\n"
        + "User=" + spec.serviceUser() + "\n"
        + "Group=" + spec.serviceUser() + "\n"
        + "SupplementaryGroups=video\n"
        + "WorkingDirectory=" + root + "/current\n"
        + "Environment=SPLITRT_ENGINE_CACHE=" + root + "/engines\n"
        + "Environment=ORT_DISABLE_TELEMETRY=1\n"
        + "Environment=SPLITRT_NATIVE_CACHE=" + root + "/cache/native\n"
        + "Environment=\"JAVA_TOOL_OPTIONS=-XX:+ExitOnOutOfMemoryError -Dorg.bytedeco.javacpp.cachedir=" + root + "/cache\"\n"
        + "ExecStart=" + spec.launcher() + " edge --config " + root + "/current/" + CONFIG + "\n"
        + "Restart=on-failure\n"
        + "RestartSec=5\n"
        + "TimeoutStopSec=45\n"
        + "UMask=0077\n"
        + "NoNewPrivileges=true\n"
        + "ProtectSystem=strict\n"
        + "ReadWritePaths=" + root + "/engines " + root + "/cache " + root + "/" + STATE + "\n"
        + "ProtectHome=true\n"
        + "PrivateTmp=true\n"
        + "ProtectKernelTunables=true\n"
        + "ProtectKernelModules=true\n"
        + "ProtectControlGroups=true\n"
        + "ProtectClock=true\n"
        + "ProtectHostname=true\n"
        + "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n"
        + "RestrictNamespaces=true\n"
        + "RestrictRealtime=true\n"
        + "RestrictSUIDSGID=true\n"
        + "LockPersonality=true\n"
        + "CapabilityBoundingSet=\n"
        + "# Not set on purpose: PrivateDevices (hides /dev/video* and the Jetson GPU nodes), MemoryDenyWriteExecute (breaks the JVM's JIT).\n"
        + "\n"
        + "[Install]\n"
        + "WantedBy=multi-user.target\n";
  }

  /**
   * The manifest without {@code eval} (evaluation data stays on the operator's side), what the device
   * runs — the head graph and, for the learned codec, its entropy tables ({@link ModelRegistry#loadHead}
   * checks exactly these) — and the reference folder, which {@code verify} uses. No tail or full graph:
   * they are the server half, 84x the head's bytes.
   */
  private static void addModel(List<Tar.Entry> entries, LoadedModel model, String root) throws IOException {
    ObjectNode tree = (ObjectNode) Yaml.mapper().readTree(model.dir().resolve("model.yaml").toFile());
    tree.remove("eval");
    entries.add(new Tar.Entry(root + "model.yaml", 0644, Tar.bytes(Yaml.mapper().writeValueAsString(tree))));
    for (String f : deviceFiles(model)) {
      entries.add(new Tar.Entry(root + f, 0644, Files.readAllBytes(model.resolve(f))));
    }
    Path refDir = model.resolve(model.manifest().reference()).getParent();
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(refDir, Files::isRegularFile)) {
      ds.forEach(files::add);
    }
    files.sort(null);
    for (Path f : files) entries.add(new Tar.Entry(root + model.dir().relativize(f).toString().replace('\\', '/'), 0644, Files.readAllBytes(f)));
  }

  /** The model files (relative to its folder) the device runs: the head graph and the learned codec's tables when it has them. */
  public static List<String> deviceFiles(LoadedModel model) {
    List<String> files = new ArrayList<>();
    files.add(model.manifest().head().file());
    if (model.manifest().bottleneck() != null && model.manifest().bottleneck().entropyModel() != null) {
      files.add(model.manifest().bottleneck().entropyModel().file());
    }
    return files;
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          log.warn("cannot delete {}: {}", p, e.getMessage());
        }
      });
    } catch (IOException e) {
      log.warn("cannot clean up {}: {}", dir, e.getMessage());
    }
  }

  static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}

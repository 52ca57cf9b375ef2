package dev.splitrt.cli;

import dev.splitrt.provision.BundleInstaller;
import dev.splitrt.provision.DeviceBundle;
import dev.splitrt.provision.DeviceCheck;
import dev.splitrt.provision.FleetCa;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code splitrt provision}: fleet CA, device bundles, install on the device, verify, revoke. See runtime/docs/provisioning.md. */
@Command(name = "provision", mixinStandardHelpOptions = true,
    subcommands = {ProvisionCommand.Ca.class, ProvisionCommand.Device.class, ProvisionCommand.Tail.class, ProvisionCommand.Install.class,
        ProvisionCommand.Verify.class, ProvisionCommand.Revoke.class},
    description = "Provision devices: fleet CA, per-device certificate and bundle, broker ACL/CRL, install, verify, revoke.")
final class ProvisionCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (try 'splitrt provision --help')");
  }

  static boolean groupExists(String name) {
    try {
      java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(name);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  /** {@code --broker-admin URL}: apply a change to the running broker now, through the dynamic-security plugin. */
  static final class AdminOption {
    @Option(names = "--broker-admin", paramLabel = "URL", description = "Apply the change to the running broker now (mqtts://HOST:PORT), "
        + "as the fleet's admin identity on $CONTROL/dynamic-security; without it the files are written and apply at the broker's next start.")
    String url;

    interface Change {
      void apply(dev.splitrt.provision.BrokerAdmin admin) throws Exception;
    }

    boolean apply(FleetCa ca, Change change, String what) throws Exception {
      if (url == null) {
        System.out.println("broker files " + ca.brokerDir() + " updated; the running broker learns of " + what
            + " with --broker-admin mqtts://HOST:PORT, or when it restarts");
        return false;
      }
      try (dev.splitrt.provision.BrokerAdmin a = dev.splitrt.provision.BrokerAdmin.connect(ca, url, Duration.ofSeconds(10))) {
        change.apply(a);
      }
      System.out.println("broker " + url + ": " + what + " applied now (dynamic-security)");
      return true;
    }
  }

  @Command(name = "ca", mixinStandardHelpOptions = true, subcommands = Ca.Init.class, description = "The fleet certificate authority.")
  static final class Ca implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
      throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: 'splitrt provision ca init'");
    }

    @Command(name = "init", mixinStandardHelpOptions = true,
        description = "Create the fleet CA (EC P-256, key mode 0600), an empty CRL, the Mosquitto ACL/listener files, and "
            + "optionally the broker's server certificate.")
    static final class Init implements Callable<Integer> {
      @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Empty folder for the CA (kept on the operator's machine).")
      Path dir;

      @Option(names = "--fleet", required = true, paramLabel = "NAME", description = "Fleet name (topic segment).")
      String fleet;

      @Option(names = "--days", defaultValue = "3650", description = "CA validity in days (default ${DEFAULT-VALUE}).")
      int days;

      @Option(names = "--broker-host", split = ",", paramLabel = "HOST", description = "Issue the broker's server certificate for these DNS names/IPs.")
      List<String> brokerHosts;

      @Option(names = "--port", defaultValue = "8883", description = "Listener port written into broker/mosquitto.conf, kept in "
          + "fleet.yaml for every later command (default ${DEFAULT-VALUE}).")
      int port;

      @Option(names = "--bind-address", paramLabel = "ADDR", description = "Address the listener binds (default: the first IP address "
          + "among --broker-host, else 127.0.0.1; 0.0.0.0 = every interface, only when you say so).")
      String bindAddress;

      @Option(names = "--broker-group", paramLabel = "GROUP", description = "Group the broker runs as (default: 'mosquitto' where that "
          + "group exists): its files are made readable by it (server key 0640), the CA folder traversable (0710), never world-readable.")
      String brokerGroup;

      @Option(names = "--no-broker-group", description = "Change no group (the broker runs as the files' owner).")
      boolean noBrokerGroup;

      @Option(names = "--max-packet-kib", paramLabel = "KIB", description = "Broker max_packet_size in KiB (default: 256, at least twice "
          + "the largest legal FeatureFrame of the zoo's models).")
      Integer maxPacketKib;

      @Override
      public Integer call() throws Exception {
        String bind = bindAddress;
        if (bind == null && brokerHosts != null) bind = brokerHosts.stream().filter(h -> h.matches("[0-9.]+") || h.contains(":")).findFirst().orElse(null);
        if (bind == null) bind = "127.0.0.1";
        String group = noBrokerGroup ? null : brokerGroup != null ? brokerGroup : groupExists("mosquitto") ? "mosquitto" : null;
        long largest = 0;
        String largestModel = null;
        for (String m : new dev.splitrt.model.ModelRegistry(RepoPaths.models()).ids()) {
          long n = FleetCa.largestFrameBytes(new dev.splitrt.model.ModelRegistry(RepoPaths.models()).load(m).manifest());
          if (n > largest) {
            largest = n;
            largestModel = m;
          }
        }
        int maxPacket = maxPacketKib != null ? maxPacketKib * 1024 : dev.splitrt.provision.BrokerSettings.DEFAULT_MAX_PACKET_BYTES;
        if (maxPacket < 2 * largest) {
          throw new Errors.UserError("--max-packet-kib " + maxPacket / 1024 + " is less than twice the largest legal FeatureFrame of the zoo ("
              + largestModel + ": " + largest + " bytes); give at least " + (2 * largest + 1023) / 1024);
        }
        dev.splitrt.provision.BrokerSettings settings = dev.splitrt.provision.BrokerSettings.DEFAULTS.withPort(port).withBindAddress(bind)
            .withGroup(group).withMaxPacketBytes(maxPacket);
        FleetCa ca = FleetCa.init(dir, fleet, Duration.ofDays(days), settings);
        if (brokerHosts != null && !brokerHosts.isEmpty()) {
          FleetCa.Issued s = ca.issue(FleetCa.Role.BROKER, "server", brokerHosts, Duration.ofDays(825), ca.brokerDir());
          System.out.println("broker certificate " + s.certFile() + " (key " + s.keyFile() + (group == null ? ", mode 0600" : ", mode 0640 group "
              + group) + ") for " + brokerHosts);
        }
        System.out.println("fleet " + fleet + ": CA " + ca.caCertFile() + ", SHA-256 fingerprint " + ca.fingerprint()
            + " (devices pin it: 'provision install --ca-fingerprint " + ca.fingerprint() + "')");
        System.out.println("broker files in " + ca.brokerDir() + ": mosquitto.conf (listener " + bind + ":" + port + ", max_packet_size "
            + maxPacket + "; largest legal frame " + largest + " bytes, " + largestModel + "), dynsec/dynamic-security.json, ca.pem, crl.pem"
            + (group == null ? "; no broker group: run the broker as this user" : "; readable by group " + group));
        System.out.println("key " + dir.resolve("ca.key") + " (mode 0600): keep it offline and backed up; it is never put in a bundle");
        return 0;
      }
    }
  }

  @Command(name = "device", mixinStandardHelpOptions = true,
      description = "Issue a device certificate (CN = id) and write its bundle: edge config, profile, model, certs, key, "
          + "SHA-256 manifest signed by the CA, systemd unit.")
  static final class Device implements Callable<Integer> {
    @Option(names = "--ca", required = true, paramLabel = "DIR", description = "The fleet CA folder ('provision ca init').")
    Path ca;

    @CommandLine.Mixin AdminOption admin;

    @Option(names = "--id", required = true, paramLabel = "ID", description = "Device id: certificate CN, MQTT username, topic segment.")
    String id;

    @Option(names = "--profile", required = true, paramLabel = "NAME", description = "Device profile (see 'splitrt profiles').")
    String profile;

    @Option(names = "--model", required = true, paramLabel = "ID", description = "Model id (see 'splitrt models').")
    String model;

    @Option(names = "--broker", required = true, paramLabel = "URL", description = "Broker as the device reaches it: mqtts://host:8883.")
    String broker;

    @Option(names = "--source", defaultValue = "v4l2:///dev/video0", description = "Frame source on the device (default ${DEFAULT-VALUE}).")
    String source;

    @Option(names = "--days", defaultValue = "365", description = "Certificate validity in days (default ${DEFAULT-VALUE}).")
    int days;

    @Option(names = "--out", defaultValue = "bundles", paramLabel = "DIR", description = "Where to write ID.tar.gz (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--install-root", defaultValue = "/opt/splitrt", description = "Install root named in the systemd unit (default ${DEFAULT-VALUE}).")
    String installRoot;

    @Option(names = "--launcher", defaultValue = "/usr/local/bin/splitrt", description = "The splitrt command on the device (default ${DEFAULT-VALUE}).")
    String launcher;

    @Option(names = "--service-user", defaultValue = "splitrt", description = "User= of the systemd unit (default ${DEFAULT-VALUE}).")
    String serviceUser;

    @Option(names = "--models", paramLabel = "DIR", description = "Model zoo (default: the repository's models/).")
    Path models;

    @Option(names = "--profiles", paramLabel = "DIR", description = "Device profiles (default: the repository's device-profiles/).")
    Path profiles;

    @Override
    public Integer call() throws Exception {
      FleetCa fleetCa = FleetCa.open(ca);
      DeviceBundle.Spec spec = new DeviceBundle.Spec(id, model, profile, broker, source, Duration.ofDays(days),
          models != null ? models : RepoPaths.models(), profiles != null ? profiles : RepoPaths.profiles(), installRoot, launcher, serviceUser);
      DeviceBundle.Built b = DeviceBundle.build(fleetCa, spec, out);
      System.out.println("device " + id + " (fleet " + fleetCa.fleet() + "): certificate serial " + b.certificate().serialHex() + ", valid until "
          + b.certificate().notAfter());
      System.out.println("bundle " + b.bundle() + " (" + b.files().size() + " files, mode 0600: it holds the device key)");
      System.out.println("on the device: splitrt provision install " + b.bundle().getFileName() + " --root " + installRoot
          + " && splitrt provision verify --dir " + installRoot + "/current");
      admin.apply(fleetCa, a -> a.addDevice(id), "device " + id);
      return 0;
    }
  }

  @Command(name = "tail", mixinStandardHelpOptions = true,
      description = "Issue a tail runner certificate (reads every device's features, writes results and dead letters) and add it to the ACL.")
  static final class Tail implements Callable<Integer> {
    @Option(names = "--ca", required = true, paramLabel = "DIR") Path ca;
    @Option(names = "--id", required = true, paramLabel = "ID") String id;
    @Option(names = "--days", defaultValue = "365") int days;
    @Option(names = "--out", defaultValue = "tails", paramLabel = "DIR") Path out;
    @CommandLine.Mixin AdminOption admin;

    @Override
    public Integer call() throws Exception {
      FleetCa fleetCa = FleetCa.open(ca);
      FleetCa.Issued t = fleetCa.issue(FleetCa.Role.TAIL, id, List.of(), Duration.ofDays(days), out);
      System.out.println("tail " + id + ": " + t.certFile() + ", key " + t.keyFile() + " (0600); broker.tls in tail.yaml: {ca_file: "
          + fleetCa.caCertFile() + ", cert_file: " + t.certFile() + ", key_file: " + t.keyFile() + "}");
      admin.apply(fleetCa, a -> a.addTail(id), "tail " + id);
      return 0;
    }
  }

  @Command(name = "install", mixinStandardHelpOptions = true,
      description = "On the device: verify every checksum and the CA signature, install into ROOT/versions/N, switch ROOT/current; "
          + "--rollback goes back to the previous version.")
  static final class Install implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "BUNDLE", description = "The ID.tar.gz from 'provision device'.")
    Path bundle;

    @Option(names = "--root", defaultValue = "/opt/splitrt", description = "Install root (default ${DEFAULT-VALUE}).")
    Path root;

    @Option(names = "--rollback", description = "Point ROOT/current back at the previous version.")
    boolean rollback;

    @Option(names = "--trust-ca", paramLabel = "FILE", description = "The fleet CA the bundle must be signed by (default: the installed one).")
    Path trustCa;

    @Option(names = "--ca-fingerprint", paramLabel = "SHA256:HEX", description = "The fleet CA's SHA-256 fingerprint as 'provision ca init' "
        + "printed it; a first install needs it (or --trust-ca).")
    String caFingerprint;

    @Option(names = "--trust-on-first-use", description = "First install only: accept the bundle's own CA unpinned (compare the printed "
        + "fingerprint yourself).")
    boolean trustOnFirstUse;

    @Option(names = "--build-engine", description = "Pre-build the head's TensorRT engine into ROOT/engines where TensorRT loads.")
    boolean buildEngine;

    @Option(names = "--owner", paramLabel = "USER", description = "Give the installed files to USER (the unit's User=; needs root).")
    String owner;

    @Override
    public Integer call() throws Exception {
      if (rollback) {
        BundleInstaller.Installed r = BundleInstaller.rollback(root);
        System.out.println("rolled back: " + root.resolve("current") + " -> versions/" + r.version() + "; restart the service (systemctl restart splitrt-edge)");
        return 0;
      }
      if (bundle == null) throw new Errors.UserError("give the bundle to install, or --rollback");
      BundleInstaller.Installed r = BundleInstaller.install(bundle, root, new BundleInstaller.Options(trustCa, buildEngine, owner, caFingerprint, trustOnFirstUse), System.out::println);
      if (r.changed()) {
        System.out.println("unit: " + r.dir().resolve("systemd/splitrt-edge.service") + " (ln -sf it into /etc/systemd/system/, then systemctl daemon-reload "
            + "&& systemctl enable --now splitrt-edge)");
      }
      return 0;
    }
  }

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = "Round trip with the device's own identity: reference features -> broker -> tail runner -> result, checked against the "
          + "reference output. Exit 1 with a diagnosis (TLS, ACL, no tail runner, model mismatch) when it fails.")
  static final class Verify implements Callable<Integer> {
    @Option(names = "--dir", defaultValue = "/opt/splitrt/current", description = "Installed version folder (default ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--timeout", defaultValue = "15", description = "Seconds to wait for the tail's result (default ${DEFAULT-VALUE}).")
    int timeout;

    @Override
    public Integer call() {
      DeviceCheck.Report r = DeviceCheck.run(dir, Duration.ofSeconds(timeout));
      for (String s : r.steps()) System.out.println("  ok  " + s);
      System.out.println((r.ok() ? "OK: " : "FAILED (" + r.outcome()
          + (r.refusal() == dev.splitrt.provision.TlsRefusal.NONE ? "" : ", " + r.refusal()) + "): ") + r.detail());
      return r.ok() ? 0 : 1;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Revoke every certificate of a device or tail id: adds it to the CA's CRL (and drops a tail from the ACL). "
          + "Mosquitto enforces it after SIGHUP (systemctl reload mosquitto).")
  static final class Revoke implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "ID") String id;
    @Option(names = "--ca", required = true, paramLabel = "DIR") Path ca;
    @Option(names = "--renew-crl", description = "Only re-sign the CRL with a new nextUpdate (do this within a year of the last signing).")
    boolean renew;

    @Option(names = "--reload-command", paramLabel = "CMD", description = "Run this (sh -c) after writing the CRL so the broker re-reads it, "
        + "before the kick: e.g. 'systemctl reload mosquitto' or 'kill -HUP $(cat /run/mosquitto/mosquitto.pid)'.")
    String reloadCommand;

    @CommandLine.Mixin AdminOption admin;

    @Override
    public Integer call() throws Exception {
      FleetCa fleetCa = FleetCa.open(ca);
      if (renew) {
        System.out.println("CRL " + fleetCa.crlFile() + " re-signed; next update " + fleetCa.renewCrl() + "; reload Mosquitto");
        return 0;
      }
      if (id == null) throw new Errors.UserError("give the id to revoke, or --renew-crl");
      List<BigInteger> serials = fleetCa.revoke(id);
      System.out.println("revoked " + id + ": serial(s) " + serials.stream().map(s -> s.toString(16)).toList() + " on " + fleetCa.crlFile()
          + " (copied to " + fleetCa.brokerDir() + ")");
      if (reloadCommand != null) {
        System.out.println(dev.splitrt.provision.BrokerAdmin.reload(reloadCommand));
      } else {
        System.out.println("the broker checks new handshakes against the CRL after a reload: systemctl reload mosquitto (or --reload-command)");
      }
      if (!admin.apply(fleetCa, a -> a.removeClient(id), "the removal of " + id + " (its open connections are closed)")) {
        System.out.println("its open connection stays until the broker learns of it: give --broker-admin mqtts://HOST:PORT to kick it now");
      }
      return 0;
    }
  }
}

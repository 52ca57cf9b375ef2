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

      @Option(names = "--port", defaultValue = "8883", description = "Listener port written into broker/mosquitto.conf (default ${DEFAULT-VALUE}).")
      int port;

      @Override
      public Integer call() throws Exception {
        FleetCa ca = FleetCa.init(dir, fleet, Duration.ofDays(days));
        if (brokerHosts != null && !brokerHosts.isEmpty()) {
          FleetCa.Issued s = ca.issue(FleetCa.Role.BROKER, "server", brokerHosts, Duration.ofDays(825), dir.resolve("broker"));
          System.out.println("broker certificate " + s.certFile() + " (key " + s.keyFile() + ", mode 0600) for " + brokerHosts);
        }
        java.nio.file.Files.writeString(dir.resolve("broker/mosquitto.conf"), ca.mosquittoConf(port));
        System.out.println("fleet " + fleet + ": CA " + ca.caCertFile() + ", SHA-256 fingerprint "
            + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(ca.certificate().getEncoded())));
        System.out.println("broker files: " + dir.resolve("broker/mosquitto.conf") + ", " + ca.aclFile() + ", " + ca.crlFile());
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
      System.out.println("broker: the fleet ACL " + fleetCa.aclFile() + " already covers this device (pattern lines); nothing to reload");
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

    @Override
    public Integer call() throws Exception {
      FleetCa fleetCa = FleetCa.open(ca);
      FleetCa.Issued t = fleetCa.issue(FleetCa.Role.TAIL, id, List.of(), Duration.ofDays(days), out);
      System.out.println("tail " + id + ": " + t.certFile() + ", key " + t.keyFile() + " (0600); broker.tls in tail.yaml: {ca_file: "
          + fleetCa.caCertFile() + ", cert_file: " + t.certFile() + ", key_file: " + t.keyFile() + "}");
      System.out.println("ACL " + fleetCa.aclFile() + " updated: reload Mosquitto (systemctl reload mosquitto / kill -HUP)");
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
      BundleInstaller.Installed r = BundleInstaller.install(bundle, root, new BundleInstaller.Options(trustCa, buildEngine, owner), System.out::println);
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

    @Override
    public Integer call() throws Exception {
      FleetCa fleetCa = FleetCa.open(ca);
      if (renew) {
        System.out.println("CRL " + fleetCa.crlFile() + " re-signed; next update " + fleetCa.renewCrl() + "; reload Mosquitto");
        return 0;
      }
      if (id == null) throw new Errors.UserError("give the id to revoke, or --renew-crl");
      List<BigInteger> serials = fleetCa.revoke(id);
      System.out.println("revoked " + id + ": serial(s) " + serials.stream().map(s -> s.toString(16)).toList() + " on " + fleetCa.crlFile());
      System.out.println("now: systemctl reload mosquitto (or kill -HUP its pid): new connections are checked against the CRL; a "
          + "connection already open stays until it reconnects (restart Mosquitto to cut it now)");
      return 0;
    }
  }
}

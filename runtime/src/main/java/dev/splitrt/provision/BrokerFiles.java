package dev.splitrt.provision;

import dev.splitrt.transport.Topics;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.List;
import java.util.Set;

/**
 * The Mosquitto 2.0 side of a fleet: the listener config and the dynamic-security plugin's config,
 * both generated from the CA's issued certificates.
 *
 * <p>Why the dynamic-security plugin and not an {@code acl_file}: Mosquitto 2.0.11's ACL-file check
 * returns success for every SUBSCRIBE ({@code security_default.c} leaves subscription ACL strings
 * unimplemented, by its own comment), measured: a device's SUBSCRIBE to {@code $share/g/splitrt/v1/<fleet>/+/features/+} or
 * {@code splitrt/v1/#} is granted, and a shared subscription then takes its round-robin share of
 * other devices' features and drops them on the read ACL. The plugin checks subscribe filters
 * ({@code subscribePattern}/{@code subscribeLiteral}) and answers SUBACK 0x87. Its ACL topics have no
 * {@code %u} substitution in 2.0.11, so each device gets its own role with literal topics; a client
 * whose username (certificate CN) it does not know has no rights at all (every check defers, and
 * Mosquitto denies what every plugin deferred). Clients carry no password: with
 * {@code use_identity_as_username} the certificate is the only credential.
 */
final class BrokerFiles {
  /** Debian's path of the plugin for this machine's architecture (the broker host is assumed to match the operator's). */
  static final String PLUGIN = "/usr/lib/" + ("aarch64".equals(System.getProperty("os.arch")) ? "aarch64" : "x86_64")
      + "-linux-gnu/mosquitto_dynamic_security.so";
  static final String TAIL_ROLE = "splitrt-tail";
  static final String ADMIN_ROLE = "splitrt-admin";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Set<PosixFilePermission> GROUP_READ = PosixFilePermissions.fromString("rw-r-----");
  private static final Set<PosixFilePermission> GROUP_WRITE = PosixFilePermissions.fromString("rw-rw----");
  private static final Set<PosixFilePermission> GROUP_DIR = PosixFilePermissions.fromString("rwxr-x---");
  private static final Set<PosixFilePermission> GROUP_WRITE_DIR = PosixFilePermissions.fromString("rwxrwx---");
  private static final Set<PosixFilePermission> TRAVERSE_DIR = PosixFilePermissions.fromString("rwx--x---");

  private BrokerFiles() {}

  static String deviceRole(String id) {
    return "splitrt-device-" + id;
  }

  /** One ACL entry of the plugin's JSON. */
  record Acl(String type, String topic) {}

  /**
   * A device's ACLs: publish its features and status; receive and subscribe to its own results; the
   * fleet's dead-letter topic by its literal name only (so that 'verify' can name a model mismatch;
   * it reveals other device ids of the fleet, not their data).
   */
  static List<Acl> deviceAcls(String fleet, String id) {
    String dead = Topics.deadLetter(fleet);
    return List.of(new Acl("publishClientSend", Topics.deviceFeatures(fleet, id)), new Acl("publishClientSend", Topics.status(fleet, id)),
        new Acl("publishClientReceive", Topics.deviceResults(fleet, id)), new Acl("subscribePattern", Topics.deviceResults(fleet, id)),
        new Acl("publishClientReceive", dead), new Acl("subscribeLiteral", dead));
  }

  /** Tail runners: every device's features in (shared groups or not), results and dead letters out. */
  static List<Acl> tailAcls(String fleet) {
    return List.of(new Acl("subscribePattern", Topics.sharedFeaturesOfAnyGroup(fleet)), new Acl("subscribePattern", Topics.fleetFeatures(fleet)),
        new Acl("publishClientReceive", Topics.fleetFeatures(fleet)), new Acl("publishClientSend", Topics.fleetResults(fleet)),
        new Acl("publishClientSend", Topics.deadLetter(fleet)));
  }

  static List<Acl> adminAcls() {
    String c = BrokerAdmin.CONTROL + "/#";
    return List.of(new Acl("publishClientSend", c), new Acl("publishClientReceive", c), new Acl("subscribePattern", c));
  }

  static ObjectNode role(String name, List<Acl> acls) {
    ObjectNode r = JSON.createObjectNode().put("rolename", name);
    ArrayNode a = r.putArray("acls");
    for (Acl acl : acls) a.addObject().put("acltype", acl.type()).put("topic", acl.topic()).put("priority", 0).put("allow", true);
    return r;
  }

  static ObjectNode client(String username, String role) {
    ObjectNode c = JSON.createObjectNode().put("username", username);
    c.putArray("roles").addObject().put("rolename", role);
    return c;
  }

  /** The plugin's whole config: deny by default, one role per device, a shared tail role, the admin. */
  static String dynsecJson(String fleet, Set<String> devices, Set<String> tails) {
    ObjectNode root = JSON.createObjectNode();
    root.putObject("defaultACLAccess").put("publishClientSend", false).put("publishClientReceive", false).put("subscribe", false)
        .put("unsubscribe", true);
    ArrayNode clients = root.putArray("clients");
    ArrayNode roles = root.putArray("roles");
    root.putArray("groups");
    clients.add(client(BrokerAdmin.ADMIN_ID, ADMIN_ROLE));
    roles.add(role(ADMIN_ROLE, adminAcls()));
    roles.add(role(TAIL_ROLE, tailAcls(fleet)));
    for (String t : tails) clients.add(client(t, TAIL_ROLE));
    for (String d : devices) {
      clients.add(client(d, deviceRole(d)));
      roles.add(role(deviceRole(d), deviceAcls(fleet, d)));
    }
    try {
      return JSON.writeValueAsString(root) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException("cannot write the dynamic-security JSON", e);
    }
  }

  /** The complete mosquitto.conf for the fleet's listener (include it from the main config, or run it alone). */
  static String mosquittoConf(String fleet, Path brokerDir, Path dynsecFile, BrokerSettings b) {
    StringBuilder sb = new StringBuilder();
    sb.append("# SplitRT fleet ").append(fleet).append(": mutual-TLS listener (Mosquitto 2.0), written by 'splitrt provision'.\n")
        .append("# Include it from mosquitto.conf, or run 'mosquitto -c' on it. After 'splitrt provision revoke': SIGHUP\n")
        .append("# (systemctl reload mosquitto) re-reads the CRL; rights live in the dynamic-security plugin (see provisioning.md).\n")
        .append("per_listener_settings false\n")
        .append("allow_anonymous false\n")
        .append("listener ").append(b.port()).append(' ').append(b.bindAddress()).append('\n')
        .append("cafile ").append(brokerDir.resolve("ca.pem")).append('\n')
        .append("certfile ").append(brokerDir.resolve("server.pem")).append('\n')
        .append("keyfile ").append(brokerDir.resolve("server.key")).append('\n')
        .append("require_certificate true\n")
        .append("use_identity_as_username true\n")
        .append("crlfile ").append(brokerDir.resolve("crl.pem")).append('\n')
        .append("plugin ").append(PLUGIN).append('\n')
        .append("plugin_opt_config_file ").append(dynsecFile).append('\n')
        .append("# Bounded work per client: larger packets are refused (the sender is disconnected before the body is read).\n")
        .append("max_packet_size ").append(b.maxPacketBytes()).append('\n')
        .append("max_queued_messages ").append(b.maxQueuedMessages()).append('\n')
        .append("max_queued_bytes ").append(b.maxQueuedBytes()).append('\n')
        .append("max_inflight_messages ").append(b.maxInflightMessages()).append('\n')
        .append("set_tcp_nodelay true\n");
    return sb.toString();
  }

  /** Writes DIR/broker from {@code ca}: CA and CRL copies, mosquitto.conf, the plugin config; then the modes. */
  static void write(FleetCa ca, String dynsecJson) throws IOException {
    Path broker = Files.createDirectories(ca.brokerDir());
    Path dynsecDir = Files.createDirectories(ca.dynsecFile().getParent());
    BrokerSettings b = ca.brokerSettings();
    boolean grouped = b.group() != null;
    Files.copy(ca.caCertFile(), broker.resolve("ca.pem"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(ca.crlFile(), broker.resolve("crl.pem"), StandardCopyOption.REPLACE_EXISTING);
    Pki.write(ca.mosquittoConfFile(), ca.mosquittoConf(), grouped ? GROUP_READ : Pki.PUBLIC_FILE);
    Pki.write(ca.dynsecFile(), dynsecJson, grouped ? GROUP_WRITE : Pki.OWNER_ONLY);
    if (!grouped) {
      Files.setPosixFilePermissions(broker, Pki.OWNER_DIR);
      Files.setPosixFilePermissions(dynsecDir, Pki.OWNER_DIR);
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(broker)) {
      for (Path f : ds) {
        if (!Files.isRegularFile(f)) continue;
        Files.setPosixFilePermissions(f, GROUP_READ);
        group(f, b.group());
      }
    }
    group(ca.dynsecFile(), b.group());
    Files.setPosixFilePermissions(broker, GROUP_DIR);
    group(broker, b.group());
    // The plugin saves its state as dynamic-security.json.new + rename: its folder must be writable by the broker.
    Files.setPosixFilePermissions(dynsecDir, GROUP_WRITE_DIR);
    group(dynsecDir, b.group());
    Files.setPosixFilePermissions(ca.dir(), TRAVERSE_DIR);
    group(ca.dir(), b.group());
  }

  /** Gives {@code p} to {@code group} (the broker's); a clear error when the group does not exist or we may not. */
  static void group(Path p, String group) throws IOException {
    GroupPrincipal g;
    try {
      g = p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
    } catch (UserPrincipalNotFoundException e) {
      throw new IOException("broker group '" + group + "' does not exist here; install the broker package (Debian: mosquitto) "
          + "or give --broker-group the group the broker runs as");
    }
    try {
      Files.getFileAttributeView(p, PosixFileAttributeView.class).setGroup(g);
    } catch (IOException e) {
      throw new IOException("cannot give " + p + " to group '" + group + "' (" + e.getMessage()
          + "): run as root or as a member of that group", e);
    }
  }
}

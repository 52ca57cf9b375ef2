package dev.splitrt.provision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a fleet change to a running Mosquitto through its dynamic-security plugin: commands on
 * {@code $CONTROL/dynamic-security/v1}, answers on {@code …/v1/response}, as the fleet's admin
 * identity ({@code DIR/admin/splitrt-admin.pem}, granted only the {@code $CONTROL} topics). Deleting a
 * client makes the plugin disconnect every connection with that username at once; what it does not
 * know has no rights, so a kicked device that reconnects before the CRL is reloaded can do nothing.
 */
public final class BrokerAdmin implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BrokerAdmin.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The admin identity's CN (reserved: no device or tail may take it). */
  public static final String ADMIN_ID = "splitrt-admin";
  static final String CONTROL = "$CONTROL/dynamic-security";
  static final String COMMANDS = CONTROL + "/v1";
  static final String RESPONSES = CONTROL + "/v1/response";

  private final FleetCa ca;
  private final MqttLink link;
  private final Duration timeout;
  private final Map<String, JsonNode> answers = new ConcurrentHashMap<>();
  private long next;

  private BrokerAdmin(FleetCa ca, MqttLink link, Duration timeout) {
    this.ca = ca;
    this.link = link;
    this.timeout = timeout;
  }

  /** Connects to {@code url} ({@code mqtts://host:port}) with the admin identity of {@code ca}. */
  public static BrokerAdmin connect(FleetCa ca, String url, Duration timeout) throws ProvisionException {
    MqttSettings d = MqttSettings.defaults(url, ADMIN_ID + "-" + ProcessHandle.current().pid());
    MqttSettings s = new MqttSettings(d.url(), d.clientId(), null, null, new MqttSettings.Tls(ca.caCertFile(), ca.adminCertFile(),
        ca.adminKeyFile()), d.keepAliveSeconds(), Duration.ofMillis(200), Duration.ofSeconds(2), d.maxInflight(), d.outboxBytes());
    MqttLink link = MqttLink.start(s, null);
    BrokerAdmin admin = new BrokerAdmin(ca, link, timeout);
    try {
      if (!link.awaitConnected(timeout)) {
        link.close();
        throw new ProvisionException("cannot reach the broker at " + url + " as " + ADMIN_ID + " within " + timeout.toSeconds()
            + " s; is it running with the fleet's mosquitto.conf (" + ca.mosquittoConfFile() + ")? The files are written; apply them by "
            + "restarting Mosquitto, or run the command again with the broker up");
      }
      link.subscribe(RESPONSES, 1, (t, p) -> admin.onResponse(p));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      link.close();
      throw new ProvisionException("interrupted while connecting to " + url);
    } catch (IllegalStateException e) {
      link.close();
      throw new ProvisionException("the broker at " + url + " refused " + ADMIN_ID + "'s subscription to " + RESPONSES + " (" + e.getMessage()
          + "): is the dynamic-security plugin loaded with " + ca.dynsecFile() + "?");
    }
    return admin;
  }

  /**
   * Runs the operator's broker reload ({@code sh -c CMD}, e.g. {@code systemctl reload mosquitto}) so
   * that new handshakes see the new CRL; fails with the command's output when it exits non-zero.
   */
  public static String reload(String command) throws ProvisionException {
    try {
      Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new ProvisionException("broker reload '" + command + "' did not finish within 30 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
      if (p.exitValue() != 0) {
        throw new ProvisionException("broker reload '" + command + "' exited with " + p.exitValue() + (out.isEmpty() ? "" : ": " + out)
            + "; the CRL is written, reload the broker yourself (systemctl reload mosquitto)");
      }
      return "broker reloaded ('" + command + "'): new handshakes are checked against the new CRL";
    } catch (IOException e) {
      throw new ProvisionException("cannot run the broker reload '" + command + "': " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProvisionException("interrupted during the broker reload");
    }
  }

  private void onResponse(byte[] payload) throws IOException {
    JsonNode r = JSON.readTree(payload);
    for (JsonNode one : r.path("responses")) {
      String id = one.path("correlationData").asText("");
      if (!id.isEmpty()) answers.put(id, one);
    }
  }

  /** Creates (or completes) a device's role and client; "already exists" is not an error. */
  public void addDevice(String id) throws ProvisionException {
    String role = BrokerFiles.deviceRole(id);
    ObjectNode createRole = command("createRole").put("rolename", role);
    createRole.set("acls", BrokerFiles.role(role, BrokerFiles.deviceAcls(ca.fleet(), id)).get("acls"));
    ObjectNode createClient = command("createClient").put("username", id);
    createClient.putArray("roles").addObject().put("rolename", role);
    run(List.of(createRole, createClient), true);
    log.info("fleet {}: device {} added to the broker's dynamic-security config (role {})", ca.fleet(), id, role);
  }

  /** Adds a tail runner to the shared tail role. */
  public void addTail(String id) throws ProvisionException {
    ObjectNode createClient = command("createClient").put("username", id);
    createClient.putArray("roles").addObject().put("rolename", BrokerFiles.TAIL_ROLE);
    run(List.of(createClient), true);
    log.info("fleet {}: tail {} added to the broker's dynamic-security config", ca.fleet(), id);
  }

  /**
   * Deletes the client {@code id} (the plugin disconnects its open connections at once) and a device's
   * own role. Returns false when the broker did not know the client.
   */
  public boolean removeClient(String id) throws ProvisionException {
    List<JsonNode> r = run(List.of(command("deleteClient").put("username", id)), false);
    boolean known = !r.get(0).has("error");
    try {
      run(List.of(command("deleteRole").put("rolename", BrokerFiles.deviceRole(id))), false);
    } catch (ProvisionException e) {
      log.debug("deleteRole {}: {}", id, e.getMessage());
    }
    log.info("fleet {}: client {} {} on the broker (open connections closed by the plugin)", ca.fleet(), id, known ? "deleted" : "was not known");
    return known;
  }

  private synchronized ObjectNode command(String name) {
    return JSON.createObjectNode().put("command", name).put("correlationData", name + "-" + (++next) + "-" + System.nanoTime());
  }

  /**
   * Sends the commands and waits for every answer. {@code adding}: an error other than "already exists"
   * fails; otherwise (removals) the answers, errors included, go back to the caller.
   */
  private List<JsonNode> run(List<ObjectNode> commands, boolean adding) throws ProvisionException {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode arr = body.putArray("commands");
    commands.forEach(arr::add);
    try {
      link.publish(COMMANDS, JSON.writeValueAsBytes(body), 1, false).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      List<JsonNode> out = new ArrayList<>();
      long deadline = System.nanoTime() + timeout.toNanos();
      for (ObjectNode c : commands) {
        String id = c.path("correlationData").asText();
        JsonNode a;
        while ((a = answers.remove(id)) == null) {
          if (System.nanoTime() > deadline) {
            throw new ProvisionException("the broker did not answer '" + c.path("command").asText() + "' on " + RESPONSES + " within "
                + timeout.toSeconds() + " s: is the dynamic-security plugin loaded?");
          }
          Thread.sleep(10);
        }
        String error = a.path("error").asText("");
        if (!error.isEmpty() && adding && !error.contains("already exists")) {
          throw new ProvisionException("the broker refused '" + c.path("command").asText() + "': " + error);
        }
        out.add(a);
      }
      return out;
    } catch (ExecutionException | TimeoutException | IOException e) {
      throw new ProvisionException("cannot send dynamic-security commands to the broker: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProvisionException("interrupted while talking to the broker");
    }
  }

  @Override
  public void close() {
    link.close();
  }
}

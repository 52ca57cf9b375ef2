package dev.splitrt.provision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.FeatureEncoder;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.config.ConfigException;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelException;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.model.ReferenceVector;
import dev.splitrt.transport.MqttLink;
import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.PublishRejectedException;
import dev.splitrt.transport.ReasonCode;
import dev.splitrt.transport.Topics;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code splitrt provision verify}: a real round trip with the device's own identity from its
 * install folder. One FeatureFrame encoded from the model's reference head output goes to the
 * device's features topic; the tail runner's result must come back on its results topic and agree
 * with the reference tail output. Each way this can fail has its own {@link Outcome} and a message
 * that says what to fix.
 */
public final class DeviceCheck {
  private static final Logger log = LoggerFactory.getLogger(DeviceCheck.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where the round trip stopped. */
  public enum Outcome {
    OK,
    /** The device's config, model or files in the install folder are unusable. */
    BAD_INSTALL,
    /** No TCP connection to the broker. */
    BROKER_UNREACHABLE,
    /** The broker's certificate is not from the fleet CA or does not name the host. */
    BROKER_UNTRUSTED,
    /** The broker refused the device's certificate in the TLS handshake (another CA, expired, revoked, none). */
    TLS_REFUSED,
    /** TLS passed but CONNACK carried a failure code. */
    CONNECT_REFUSED,
    /** The ACL refused the device's publish (PUBACK 0x87) or its results subscription (SUBACK 0x87). */
    ACL_REFUSED,
    /** The features were accepted but no result arrived: no tail runner serves this fleet and model. */
    NO_TAIL,
    /** A tail runner refused the features (dead letter: head_mismatch, unknown_model, shape_mismatch). */
    MODEL_MISMATCH,
    /** A result came back but disagrees with the reference output. */
    WRONG_RESULT
  }

  /**
   * The outcome, a one-paragraph diagnosis, the steps passed, the round trip time when there was one,
   * and for {@link Outcome#TLS_REFUSED} the refusal named by the broker's TLS alert.
   */
  public record Report(Outcome outcome, String detail, List<String> steps, long roundTripMillis, TlsRefusal refusal) {
    public Report(Outcome outcome, String detail, List<String> steps, long roundTripMillis) {
      this(outcome, detail, steps, roundTripMillis, TlsRefusal.NONE);
    }

    public boolean ok() {
      return outcome == Outcome.OK;
    }
  }

  private DeviceCheck() {}

  /**
   * Verifies the installation in {@code dir} (an installed version or {@code ROOT/current}; relative
   * paths in its {@code config/edge.yaml} resolve against it). Waits up to {@code resultTimeout} for the
   * tail's answer.
   */
  public static Report run(Path dir, Duration resultTimeout) {
    List<String> steps = new ArrayList<>();
    EdgeConfig c;
    LoadedModel model;
    ReferenceVector ref;
    try {
      c = EdgeConfig.read(dir.resolve(DeviceBundle.CONFIG));
      Path models = dir.resolve(c.modelsDir() == null ? Path.of("models") : c.modelsDir());
      model = new ModelRegistry(models).loadHead(c.model());
      ref = ReferenceVector.load(model).get(0);
    } catch (ConfigException | ModelException | IOException e) {
      return new Report(Outcome.BAD_INSTALL, e.getMessage(), steps, -1);
    }
    if (c.broker().tls() == null) {
      return new Report(Outcome.BAD_INSTALL, dir.resolve(DeviceBundle.CONFIG) + ": broker.tls is missing; a provisioned device uses mutual TLS", steps, -1);
    }
    Path ca = dir.resolve(c.broker().tls().caFile());
    Path cert = c.broker().tls().certFile() == null ? null : dir.resolve(c.broker().tls().certFile());
    Path key = c.broker().tls().keyFile() == null ? null : dir.resolve(c.broker().tls().keyFile());
    steps.add("config, model " + c.model() + " and reference vector loaded from " + dir);

    String localProblem = cert == null ? "the config names no client certificate (broker.tls.cert_file)" : localCheck(ca, cert, c.deviceId());
    if (localProblem != null) steps.add("local certificate check: " + localProblem);
    else steps.add("local certificate check: CN=" + c.deviceId() + ", chains to the bundle's CA, within its validity");

    String fleet = c.fleet();
    String resultsTopic = Topics.results(fleet, c.deviceId(), c.model());
    String deadLetter = Topics.deadLetter(fleet);
    BrokerProbe.Result probe = BrokerProbe.run(c.broker().url(), ca, cert, key, c.deviceId() + "-probe", List.of(resultsTopic, deadLetter),
        10_000);
    String suffix = localProblem == null ? "" : " Locally: " + localProblem + ".";
    switch (probe.stage()) {
      case UNREACHABLE -> {
        return new Report(Outcome.BROKER_UNREACHABLE, probe.detail() + suffix, steps, -1);
      }
      case BROKER_UNTRUSTED -> {
        return new Report(Outcome.BROKER_UNTRUSTED, probe.detail(), steps, -1);
      }
      case TLS_REFUSED -> {
        return new Report(Outcome.TLS_REFUSED, probe.detail() + "." + suffix
            + " Fix: provision the device again from this fleet's CA ('splitrt provision device') and install the new bundle.", steps, -1,
            probe.refusal());
      }
      case CONNECT_REFUSED -> {
        return new Report(Outcome.CONNECT_REFUSED, probe.detail() + suffix, steps, -1);
      }
      case OK -> steps.add("broker " + c.broker().url() + ": mutual TLS handshake and CONNECT accepted");
    }
    if (!probe.subackCodes().isEmpty() && probe.subackCodes().get(0) >= 0x80) {
      return new Report(Outcome.ACL_REFUSED, "the broker refused the subscription to " + resultsTopic + " (SUBACK 0x"
          + Integer.toHexString(probe.subackCodes().get(0)) + "): the broker's dynamic-security config must know '" + c.deviceId()
          + "' (role splitrt-device-" + c.deviceId() + "): run 'splitrt provision device' with --broker-admin, or restart the broker "
          + "on the fleet's pki/broker/mosquitto.conf", steps, -1);
    }
    boolean deadLetterReadable = probe.subackCodes().size() > 1 && probe.subackCodes().get(1) < 0x80;
    steps.add("subscriptions accepted: " + resultsTopic + (deadLetterReadable ? ", " + deadLetter : " (dead letters not readable: a model mismatch shows as no result)"));
    return roundTrip(c, model, ref, new MqttSettings.Tls(ca, cert, key), resultTimeout, deadLetterReadable, steps);
  }

  private static Report roundTrip(EdgeConfig c, LoadedModel model, ReferenceVector ref, MqttSettings.Tls tls, Duration timeout,
      boolean deadLetters, List<String> steps) {
    ModelManifest mf = model.manifest();
    String featuresTopic = Topics.features(c.fleet(), c.deviceId(), c.model());
    MqttSettings d = MqttSettings.defaults(c.broker().url(), c.deviceId() + "-verify");
    MqttSettings s = new MqttSettings(d.url(), d.clientId(), null, null, tls, d.keepAliveSeconds(), Duration.ofMillis(200),
        Duration.ofSeconds(2), d.maxInflight(), d.outboxBytes());
    long sequence = System.currentTimeMillis() * 1000 + Pki.RANDOM.nextInt(1000);
    LinkedBlockingQueue<JsonNode> results = new LinkedBlockingQueue<>();
    LinkedBlockingQueue<JsonNode> letters = new LinkedBlockingQueue<>();
    try (MqttLink link = MqttLink.start(s, null)) {
      link.subscribe(Topics.results(c.fleet(), c.deviceId(), c.model()), 1, (t, p) -> {
        JsonNode n = JSON.readTree(p);
        if (n.path("sequence").asLong() == sequence) results.add(n);
      });
      if (deadLetters) {
        link.subscribe(Topics.deadLetter(c.fleet()), 1, (t, p) -> {
          JsonNode n = JSON.readTree(p);
          if (featuresTopic.equals(n.path("topic").asText())) letters.add(n);
        });
      }
      if (!link.awaitConnected(Duration.ofSeconds(10))) {
        return new Report(Outcome.TLS_REFUSED, "the MQTT client did not connect within 10 s although the probe did; see the broker log", steps, -1);
      }
      CodecSpec codec = CodecSpec.of(c.pipeline() != null && c.pipeline().codec() != null ? c.pipeline().codec() : mf.bottleneck().codec());
      FeatureEncoder enc = new FeatureEncoder(codec, mf.head().output().dims());
      long now = System.currentTimeMillis() * 1000;
      byte[] frame = enc.encode(new FrameHeader(c.deviceId(), mf.id(), model.headSha256(), sequence, now, mf.input().width(),
          mf.input().height()), FloatBuffer.wrap(ref.headOutput()));
      long t0 = System.nanoTime();
      try {
        link.publish(featuresTopic, frame, 1, false).get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof PublishRejectedException r) {
          return new Report(r.code() == ReasonCode.NOT_AUTHORIZED ? Outcome.ACL_REFUSED : Outcome.CONNECT_REFUSED, "the broker refused the features on "
              + featuresTopic + " (PUBACK 0x" + Integer.toHexString(r.reasonCode()) + "): the ACL must let '" + c.deviceId()
              + "' publish " + featuresTopic + " (role splitrt-device-" + c.deviceId() + " in the broker's dynamic-security config)", steps, -1);
        }
        return new Report(Outcome.CONNECT_REFUSED, "publishing the features failed: " + e.getCause(), steps, -1);
      } catch (TimeoutException e) {
        return new Report(Outcome.CONNECT_REFUSED, "the broker did not acknowledge the features within 10 s", steps, -1);
      }
      steps.add("reference features (" + frame.length + " bytes, " + codec.bits() + "-bit) accepted on " + featuresTopic);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        JsonNode r = results.poll(50, TimeUnit.MILLISECONDS);
        if (r != null) {
          long ms = (System.nanoTime() - t0) / 1_000_000;
          String mismatch = compare(mf, ref, r.path("prediction"));
          if (mismatch != null) {
            return new Report(Outcome.WRONG_RESULT, "the tail's result disagrees with the reference: " + mismatch
                + "; the tail runner serves a different " + mf.id() + " version or a broken backend", steps, ms);
          }
          steps.add("result from tail runner " + r.path("runner").asText() + " (" + r.path("backend").asText() + ") matches the reference, "
              + ms + " ms round trip");
          return new Report(Outcome.OK, "round trip OK: " + c.deviceId() + " -> broker -> tail -> " + c.deviceId() + " in " + ms + " ms", steps, ms);
        }
        JsonNode dl = letters.poll();
        if (dl != null) {
          return new Report(Outcome.MODEL_MISMATCH, "the tail runner refused the features: " + dl.path("reason").asText() + ": "
              + dl.path("detail").asText(), steps, -1);
        }
      }
      return new Report(Outcome.NO_TAIL, "no result on " + Topics.results(c.fleet(), c.deviceId(), c.model()) + " within " + timeout.toSeconds()
          + " s: no tail runner serves fleet " + c.fleet() + " and model " + mf.id() + " (start 'splitrt tail' with models: [" + mf.id()
          + "]), or the broker's dynamic-security config lacks the tail (see the broker log)", steps, -1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Report(Outcome.NO_TAIL, "interrupted while waiting for the result", steps, -1);
    }
  }

  /** Null when the result's prediction agrees with the reference tail output, else what differs. */
  static String compare(ModelManifest mf, ReferenceVector ref, JsonNode prediction) {
    float[] logits = ref.tailOutput();
    if ("classification".equals(prediction.path("kind").asText())) {
      int best = 0;
      for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      int got = prediction.path("top_k").path(0).path("label").asInt(-1);
      return got == best ? null : "top-1 label " + got + " but the reference says " + best + " (" + mf.labels().get(best) + ")";
    }
    if ("detection".equals(prediction.path("kind").asText())) {
      JsonNode boxes = prediction.path("boxes");
      if (!boxes.isArray()) return "the result has no boxes array";
      List<double[]> expected = ReferenceBoxes.of(mf, logits);
      for (double[] e : expected) {
        boolean found = false;
        for (JsonNode b : boxes) {
          double[] g = {b.path("x1").asDouble(), b.path("y1").asDouble(), b.path("x2").asDouble(), b.path("y2").asDouble(), b.path("label").asInt()};
          if ((int) g[4] == (int) e[4] && ReferenceBoxes.iou(e, g) >= 0.7) {
            found = true;
            break;
          }
        }
        if (!found) return "reference box label " + (int) e[4] + " at " + java.util.Arrays.toString(java.util.Arrays.copyOf(e, 4)) + " is missing";
      }
      return null;
    }
    return "unknown prediction kind '" + prediction.path("kind").asText() + "'";
  }

  /** Null when {@code cert} is the device's (CN), chains to {@code ca} and is within its validity; else the problem. */
  static String localCheck(Path ca, Path cert, String deviceId) {
    try {
      X509Certificate c = Pki.readCert(cert);
      X509Certificate caCert = Pki.readCert(ca);
      if (!Pki.commonName(c).equals(deviceId)) return "the certificate is for '" + Pki.commonName(c) + "', not '" + deviceId + "'";
      try {
        c.verify(caCert.getPublicKey());
      } catch (java.security.GeneralSecurityException e) {
        return "the certificate is not signed by the CA in " + ca + " (issued by " + c.getIssuerX500Principal().getName() + ")";
      }
      try {
        c.checkValidity();
      } catch (CertificateExpiredException e) {
        return "the certificate expired at " + c.getNotAfter().toInstant();
      } catch (CertificateNotYetValidException e) {
        return "the certificate is not valid before " + c.getNotBefore().toInstant() + " (check the device clock)";
      }
      return null;
    } catch (ProvisionException e) {
      log.debug("local certificate check: {}", e.getMessage());
      return e.getMessage();
    }
  }
}

package dev.splitrt.provision;

/**
 * Why the broker refused the client certificate, read from the TLS alert it sent. With TLS 1.3 the
 * client's certificate is checked after the client has finished its side of the handshake, so the
 * alert can arrive on the first read or write; the probe reads it from there, and when the
 * connection was torn down before the alert could be read, it asks again with TLS 1.2, where the
 * broker refuses inside the handshake.
 */
public enum TlsRefusal {
  /** Not refused (or not a TLS refusal). */
  NONE(null),
  /** {@code certificate_revoked}: the serial is on the broker's CRL. */
  REVOKED("certificate_revoked"),
  /** {@code certificate_expired}: outside its validity (or the broker's clock is off). */
  EXPIRED("certificate_expired"),
  /** {@code unknown_ca}: signed by a CA the broker does not trust. */
  UNKNOWN_CA("unknown_ca"),
  /** {@code certificate_required} (TLS 1.3) or {@code handshake_failure} without a client certificate. */
  NO_CERTIFICATE("certificate_required"),
  /** {@code bad_certificate}, {@code certificate_unknown}, ...: refused for another reason (broker log). */
  OTHER(null),
  /** The connection broke after the handshake and no alert could be read (broker log). */
  UNKNOWN(null);

  final String alert;

  TlsRefusal(String alert) {
    this.alert = alert;
  }

  /** The refusal named by an exception chain's messages ("Received fatal alert: certificate_revoked"), or null. */
  static TlsRefusal fromAlert(Throwable t, boolean sentCertificate) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      String m = String.valueOf(c.getMessage());
      if (!m.contains("alert")) continue;
      for (TlsRefusal r : values()) if (r.alert != null && m.contains(r.alert)) return r;
      if (!sentCertificate && m.contains("handshake_failure")) return NO_CERTIFICATE;
      return OTHER;
    }
    return null;
  }
}

package dev.splitrt.transport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * The project's one PEM codec, with java.security only (a device carries no BouncyCastle): certificates, CRLs and
 * unencrypted PKCS#8 keys read from and written to the PEM files {@code openssl}, Mosquitto and provisioning use, and
 * an {@link SSLSocketFactory} made from them. Readers throw {@link IOException}s that name the file and the fix.
 */
public final class Pem {
  private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

  private Pem() {}

  static SSLSocketFactory socketFactory(MqttSettings.Tls tls) throws IOException {
    return context(tls).getSocketFactory();
  }

  /**
   * A TLS context that trusts {@code tls.caFile()} (the JVM's trust store when null) and, when given, presents
   * {@code tls.certFile()} with its key; a key that does not belong to the certificate is refused here, by name.
   */
  public static SSLContext context(MqttSettings.Tls tls) throws IOException {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      if (tls == null || tls.caFile() == null) {
        tmf.init((KeyStore) null);
      } else {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int i = 0;
        for (X509Certificate ca : certificates(tls.caFile())) {
          trust.setCertificateEntry("ca-" + i++, ca);
        }
        tmf.init(trust);
      }
      KeyManagerFactory kmf = null;
      if (tls != null && tls.certFile() != null) {
        List<X509Certificate> chain = certificates(tls.certFile());
        PrivateKey key = privateKey(tls.keyFile());
        checkPair(key, chain.get(0), tls);
        char[] pass = new char[16];
        SecureRandom r = new SecureRandom();
        for (int i = 0; i < pass.length; i++) {
          pass[i] = (char) ('a' + r.nextInt(26));
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("client", key, pass, chain.toArray(new Certificate[0]));
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pass);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot build the TLS context from " + tls + ": " + e.getMessage(), e);
    }
  }

  /** Every certificate in a PEM file, in file order (a chain: leaf first); at least one. */
  public static List<X509Certificate> certificates(Path file) throws IOException {
    byte[] bytes = read(file, "certificate");
    List<X509Certificate> out = new ArrayList<>();
    try (InputStream in = new ByteArrayInputStream(bytes)) {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        out.add((X509Certificate) c);
      }
    } catch (GeneralSecurityException e) {
      throw new IOException(file + ": not a PEM certificate file (" + e.getMessage()
          + "); expected -----BEGIN CERTIFICATE----- blocks", e);
    }
    if (out.isEmpty()) {
      throw new IOException(file + ": holds no certificate; expected -----BEGIN CERTIFICATE----- blocks");
    }
    return out;
  }

  /** An X.509 CRL in PEM (or DER) form. */
  public static X509CRL crl(Path file) throws IOException {
    byte[] bytes = read(file, "CRL");
    try (InputStream in = new ByteArrayInputStream(bytes)) {
      return (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(in);
    } catch (GeneralSecurityException | ClassCastException e) {
      throw new IOException(file + ": not a PEM CRL (" + e.getMessage() + "); expected a -----BEGIN X509 CRL----- block", e);
    }
  }

  /** An unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}) EC or RSA key. */
  public static PrivateKey privateKey(Path file) throws IOException {
    String text = new String(read(file, "private key"), StandardCharsets.US_ASCII);
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      String type = m.group(1);
      switch (type) {
        case "PRIVATE KEY" -> {
          byte[] der;
          try {
            der = Base64.getMimeDecoder().decode(m.group(2).trim());
          } catch (IllegalArgumentException e) {
            throw new IOException(file + ": the PRIVATE KEY block is not valid base64 (" + e.getMessage() + ")", e);
          }
          PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
          for (String alg : new String[] {"EC", "RSA"}) {
            try {
              return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
              // next algorithm
            }
          }
          throw new IOException(file + ": the PKCS#8 key is neither EC nor RSA (or is damaged); use an EC P-256 or RSA key");
        }
        case "EC PRIVATE KEY", "RSA PRIVATE KEY" -> throw new IOException(file + ": holds a " + type
            + " (SEC1/PKCS#1); convert it to PKCS#8 with: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pk8.pem");
        case "ENCRYPTED PRIVATE KEY" -> throw new IOException(file + ": the key is encrypted; store it unencrypted "
            + "(file mode 0600) with: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pk8.pem");
        default -> { }
      }
    }
    throw new IOException(file + ": holds no -----BEGIN PRIVATE KEY----- block");
  }

  private static void checkPair(PrivateKey key, X509Certificate cert, MqttSettings.Tls tls) throws IOException {
    String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
    boolean ok;
    try {
      byte[] probe = "splitrt key check".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      ok = v.verify(sig);
    } catch (GeneralSecurityException e) {
      ok = false;
    }
    if (!ok) {
      throw new IOException(tls.keyFile() + " is not the private key of the certificate in " + tls.certFile()
          + " (" + cert.getSubjectX500Principal() + "); give the key that was used for that certificate");
    }
  }

  /** Unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}): what {@link #privateKey}, Mosquitto and openssl read. */
  public static String encode(PrivateKey key) {
    return block("PRIVATE KEY", key.getEncoded());
  }

  public static String encode(X509Certificate cert) {
    try {
      return block("CERTIFICATE", cert.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encode certificate " + cert.getSubjectX500Principal(), e);
    }
  }

  public static String encode(X509CRL crl) {
    try {
      return block("X509 CRL", crl.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encode the CRL of " + crl.getIssuerX500Principal(), e);
    }
  }

  // RFC 7468: base64 lines of 64 characters between the BEGIN and END lines.
  private static String block(String type, byte[] der) {
    String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
  }

  private static byte[] read(Path file, String what) throws IOException {
    if (!Files.isReadable(file)) {
      throw new IOException(what + " file " + file + " does not exist or is not readable; check the tls paths");
    }
    return Files.readAllBytes(file);
  }
}

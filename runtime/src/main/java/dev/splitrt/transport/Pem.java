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
 * PEM certificates and PKCS#8 keys into an {@link SSLSocketFactory}, with java.security only: devices
 * get their CA, certificate and key as the PEM files {@code openssl} and provisioning write.
 */
final class Pem {
  private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

  private Pem() {}

  static SSLSocketFactory socketFactory(MqttSettings.Tls tls) throws IOException {
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
      return ctx.getSocketFactory();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot build the TLS context from " + tls + ": " + e.getMessage(), e);
    }
  }

  static List<X509Certificate> certificates(Path file) throws IOException {
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

  /** An unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}) EC or RSA key. */
  static PrivateKey privateKey(Path file) throws IOException {
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

  private static byte[] read(Path file, String what) throws IOException {
    if (!Files.isReadable(file)) {
      throw new IOException(what + " file " + file + " does not exist or is not readable; check the tls paths");
    }
    return Files.readAllBytes(file);
  }
}

package dev.splitrt.provision;

import dev.splitrt.transport.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/** Keys, PEM files and file modes: the small pieces every provisioning step shares. */
final class Pki {
  static final SecureRandom RANDOM = new SecureRandom();
  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  static final Set<PosixFilePermission> PUBLIC_FILE = PosixFilePermissions.fromString("rw-r--r--");
  static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");
  static final Set<PosixFilePermission> PUBLIC_DIR = PosixFilePermissions.fromString("rwxr-xr-x");

  private Pki() {}

  static KeyPair newP256() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM cannot make EC P-256 keys", e);
    }
  }

  /** 127 random bits, positive and non-zero: unique in practice, and checked against issued serials by the CA. */
  static BigInteger newSerial() {
    BigInteger s;
    do {
      s = new BigInteger(127, RANDOM);
    } while (s.signum() == 0);
    return s;
  }

  static PrivateKey readKey(Path file) throws ProvisionException {
    PrivateKey key;
    try {
      key = Pem.privateKey(file);
    } catch (IOException e) {
      throw new ProvisionException(e.getMessage() + " (mode 0600, owner: you must be able to read it)", e);
    }
    if (!key.getAlgorithm().equals("EC")) {
      throw new ProvisionException(file + ": holds a " + key.getAlgorithm() + " key; fleet keys are EC P-256 (made by 'splitrt provision'), restore that key");
    }
    return key;
  }

  static X509Certificate readCert(Path file) throws ProvisionException {
    return readCerts(file).get(0);
  }

  static List<X509Certificate> readCerts(Path file) throws ProvisionException {
    try {
      return Pem.certificates(file);
    } catch (IOException e) {
      throw new ProvisionException(e.getMessage(), e);
    }
  }

  static X509CRL readCrl(Path file) throws ProvisionException {
    try {
      return Pem.crl(file);
    } catch (IOException e) {
      throw new ProvisionException(e.getMessage() + "; re-create it with 'splitrt provision revoke --renew-crl'", e);
    }
  }

  /** Writes {@code text} so that the file never exists with other permissions than {@code perms} (temp file + rename). */
  static void write(Path file, byte[] bytes, Set<PosixFilePermission> perms) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    try {
      Files.write(tmp, bytes);
      Files.setPosixFilePermissions(tmp, perms);
      // A rename within the file's own folder: atomic, so the file never exists half written or with other modes.
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  static void write(Path file, String text, Set<PosixFilePermission> perms) throws IOException {
    write(file, text.getBytes(StandardCharsets.UTF_8), perms);
  }

  /** Creates a key file that must not exist yet (a CA key is never silently replaced). */
  static void writeNew(Path file, String text) throws IOException {
    if (Files.exists(file)) throw new FileAlreadyExistsException(file.toString());
    write(file, text, OWNER_ONLY);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  static String fingerprint(X509Certificate c) {
    try {
      return sha256(c.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encode certificate " + c.getSubjectX500Principal(), e);
    }
  }

  /** The CN of a certificate's subject (the device or tail id), or "" when it has none. */
  static String commonName(X509Certificate c) {
    for (String part : c.getSubjectX500Principal().getName("RFC2253").split(",")) {
      if (part.startsWith("CN=")) return part.substring(3);
    }
    return "";
  }
}

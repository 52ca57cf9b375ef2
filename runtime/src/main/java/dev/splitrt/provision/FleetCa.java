package dev.splitrt.provision;

import dev.splitrt.transport.Pem;
import dev.splitrt.config.ConfigException;
import dev.splitrt.config.Yaml;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fleet's certificate authority on the operator's machine: one EC P-256 CA whose certificates are
 * the identities of devices (CN = device id), tail runners and the broker, plus the broker-side
 * files that make those identities mean something (Mosquitto ACL, CRL, listener lines). The CA key
 * is written with mode 0600 in a 0700 folder and is never logged or copied into a bundle.
 *
 * <pre>
 * DIR/fleet.yaml   DIR/ca.pem   DIR/ca.key (0600)   DIR/crl.pem   DIR/issued/ROLE-ID-SERIAL.pem
 * DIR/admin/{splitrt-admin.pem, splitrt-admin.key (0600)}         the identity 'provision' uses on $CONTROL
 * DIR/broker/{mosquitto.conf, ca.pem, crl.pem, server.pem, server.key (0640 group broker)}
 * DIR/broker/dynsec/dynamic-security.json (0660 group broker: the plugin saves its state there)
 * </pre>
 *
 * With a broker group (Debian: {@code mosquitto}) DIR is 0710 and DIR/broker 0750 in that group, so
 * the broker's own user can traverse to its files and read them but not list DIR or read the CA key.
 */
public final class FleetCa {
  private static final Logger log = LoggerFactory.getLogger(FleetCa.class);
  static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
  /** Ids a device may not take: {@code splitrt/v1/<fleet>/deadletter/#} would cover the fleet's dead-letter topic. */
  private static final Set<String> RESERVED = Set.of("deadletter", "broker", "%u", "%c", BrokerAdmin.ADMIN_ID);
  public static final Duration DEFAULT_CA_VALIDITY = Duration.ofDays(3650);
  public static final Duration DEFAULT_LEAF_VALIDITY = Duration.ofDays(365);
  static final Duration CRL_VALIDITY = Duration.ofDays(365);
  private static final Duration SKEW = Duration.ofMinutes(5);

  /** What a certificate is for: devices and tail runners are TLS clients, the broker a TLS server. */
  public enum Role {
    /** A device: writes its features and status, reads its results. */
    DEVICE,
    /** A tail runner: reads every device's features, writes results and dead letters. */
    TAIL,
    /** The broker's server certificate. */
    BROKER,
    /** The operator's identity on the broker's {@code $CONTROL/dynamic-security} topics (made by {@link #init}). */
    ADMIN
  }

  /** One issued certificate and where its PEM files were written ({@code keyFile} mode 0600). */
  public record Issued(Role role, String id, BigInteger serial, Instant notBefore, Instant notAfter, Path certFile, Path keyFile) {
    public String serialHex() {
      return serial.toString(16);
    }
  }

  record FleetFile(String fleet, String created, BrokerSettings broker) {}

  private final Path dir;
  private final String fleet;
  private final X509Certificate caCert;
  private final BrokerSettings broker;

  private FleetCa(Path dir, String fleet, X509Certificate caCert, BrokerSettings broker) {
    this.dir = dir;
    this.fleet = fleet;
    this.caCert = caCert;
    this.broker = (broker == null ? BrokerSettings.DEFAULTS : broker).resolved();
  }

  /** {@link #init(Path, String, Duration, BrokerSettings)} with the default broker settings and no broker group. */
  public static FleetCa init(Path dir, String fleet, Duration validity) throws ProvisionException {
    return init(dir, fleet, validity, BrokerSettings.DEFAULTS);
  }

  /**
   * Creates the CA in {@code dir} (which must not hold one yet), an empty CRL, the admin identity and
   * the broker files for {@code broker} (kept in fleet.yaml for every later command).
   */
  public static FleetCa init(Path dir, String fleet, Duration validity, BrokerSettings broker) throws ProvisionException {
    if (fleet == null || !ID.matcher(fleet).matches()) {
      throw new ProvisionException("fleet '" + fleet + "' must match [A-Za-z0-9_.-]{1,64} (it is a topic segment)");
    }
    Path caKey = dir.resolve("ca.key");
    if (Files.exists(caKey) || Files.exists(dir.resolve("ca.pem"))) {
      throw new ProvisionException(dir + " already holds a CA (ca.pem/ca.key); use it (FleetCa.open) or choose an empty folder");
    }
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, Pki.OWNER_DIR);
      Files.createDirectories(dir.resolve("issued"));
      KeyPair kp = Pki.newP256();
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      X500Name name = new X500Name("CN=SplitRT fleet " + fleet + " CA,O=SplitRT");
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, Pki.newSerial(), Date.from(now.minus(SKEW)),
          Date.from(now.plus(validity)), name, kp.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      X509Certificate cert = toCert(b.build(signer(kp.getPrivate())));
      Pki.writeNew(caKey, Pem.encode(kp.getPrivate()));
      Pki.write(dir.resolve("ca.pem"), Pem.encode(cert), Pki.PUBLIC_FILE);
      BrokerSettings bs = broker.resolved();
      if (bs.group() != null) BrokerFiles.group(dir, bs.group());
      Pki.write(dir.resolve("fleet.yaml"), Yaml.mapper().writeValueAsString(new FleetFile(fleet, now.toString(), bs)), Pki.PUBLIC_FILE);
      FleetCa ca = new FleetCa(dir, fleet, cert, bs);
      ca.writeCrl(null, List.of());
      ca.issue(Role.ADMIN, BrokerAdmin.ADMIN_ID, List.of(), validity.compareTo(Duration.ofDays(2)) > 0 ? validity.minusDays(1)
          : validity.dividedBy(2), dir.resolve("admin"));
      Files.setPosixFilePermissions(dir.resolve("admin"), Pki.OWNER_DIR);
      ca.writeBrokerFiles();
      log.info("fleet {}: CA created in {} (certificate {}, valid until {}; key file mode 0600)", fleet, dir, ca.caCertFile(),
          cert.getNotAfter().toInstant());
      return ca;
    } catch (FileAlreadyExistsException e) {
      throw new ProvisionException(e.getFile() + " exists; a CA key is never replaced: choose an empty folder");
    } catch (IOException | GeneralSecurityException e) {
      throw new ProvisionException("cannot create the CA in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Opens an existing CA folder (made by {@link #init}). */
  public static FleetCa open(Path dir) throws ProvisionException {
    Path yaml = dir.resolve("fleet.yaml");
    if (!Files.isRegularFile(yaml) || !Files.isRegularFile(dir.resolve("ca.pem"))) {
      throw new ProvisionException(dir + " holds no fleet CA (fleet.yaml, ca.pem); create one with 'splitrt provision ca init --dir "
          + dir + " --fleet NAME'");
    }
    FleetFile f;
    try {
      f = Yaml.read(yaml, FleetFile.class);
    } catch (ConfigException e) {
      throw new ProvisionException(e.getMessage(), e);
    }
    return new FleetCa(dir, f.fleet(), Pki.readCert(dir.resolve("ca.pem")), f.broker());
  }

  /** SHA-256 of the CA certificate, as devices pin it: {@code SHA256:<hex>}. */
  public String fingerprint() {
    return "SHA256:" + Pki.fingerprint(caCert);
  }

  /**
   * An upper bound on a legal FeatureFrame of {@code m}: 8-bit codes for every bottleneck element,
   * zstd's worst-case expansion, the largest header (128-byte ids, per-channel three-range parameters).
   */
  public static long largestFrameBytes(dev.splitrt.model.ModelManifest m) {
    int[] d = m.head().output().dims();
    long elements = 1;
    for (int x : d) elements *= x;
    long channels = d.length > 1 ? d[1] : 1;
    long payload = elements + elements / 128 + 64;
    long header = 128 + 2 * 128 + 4L * d.length + 30 * channels + 4;
    return payload + header;
  }

  /** The broker settings from fleet.yaml, defaults filled in. */
  public BrokerSettings brokerSettings() {
    return broker;
  }

  /** The admin identity's certificate and key (made by {@link #init}), for {@link BrokerAdmin}. */
  public Path adminCertFile() {
    return dir.resolve("admin").resolve(BrokerAdmin.ADMIN_ID + ".pem");
  }

  public Path adminKeyFile() {
    return dir.resolve("admin").resolve(BrokerAdmin.ADMIN_ID + ".key");
  }

  public Path brokerDir() {
    return dir.resolve("broker");
  }

  public Path mosquittoConfFile() {
    return brokerDir().resolve("mosquitto.conf");
  }

  public Path dynsecFile() {
    return brokerDir().resolve("dynsec").resolve("dynamic-security.json");
  }

  public String fleet() {
    return fleet;
  }

  public Path dir() {
    return dir;
  }

  public Path caCertFile() {
    return dir.resolve("ca.pem");
  }

  public Path crlFile() {
    return dir.resolve("crl.pem");
  }

  public X509Certificate certificate() {
    return caCert;
  }

  /** Issues a certificate valid from now (less 5 minutes of clock skew) for {@code validity}. */
  public Issued issue(Role role, String id, List<String> hosts, Duration validity, Path outDir) throws ProvisionException {
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    return issue(role, id, hosts, now.minus(SKEW), now.plus(validity), outDir);
  }

  /**
   * Issues a certificate for {@code id} with a fresh EC P-256 key, written as {@code outDir/ID.pem}
   * and {@code outDir/ID.key} (0600). Devices and tails get CN = id, a SAN URI
   * {@code urn:splitrt:<fleet>:<role>:<id>} and extendedKeyUsage clientAuth; the broker gets
   * serverAuth and a SAN per host (IP address or DNS name). Tail certificates are added to the ACL.
   */
  public Issued issue(Role role, String id, List<String> hosts, Instant notBefore, Instant notAfter, Path outDir)
      throws ProvisionException {
    if (id == null || !ID.matcher(id).matches()) {
      throw new ProvisionException("id '" + id + "' must match [A-Za-z0-9_.-]{1,64}: it is the certificate CN, the MQTT username "
          + "and a topic segment");
    }
    if ((role == Role.DEVICE || role == Role.TAIL) && RESERVED.contains(id)) {
      throw new ProvisionException("id '" + id + "' is reserved (a device named so could write splitrt/v1/" + fleet + "/" + id
          + "/#); choose another id");
    }
    if (!notAfter.isAfter(notBefore)) throw new ProvisionException("validity of '" + id + "' ends before it starts; give a positive --days");
    if (notAfter.isAfter(caCert.getNotAfter().toInstant()) && notAfter.isAfter(Instant.now())) {
      throw new ProvisionException("a certificate for '" + id + "' until " + notAfter + " would outlive the CA (valid until "
          + caCert.getNotAfter().toInstant() + "); give fewer --days");
    }
    if (role == Role.DEVICE || role == Role.TAIL) {
      Role other = role == Role.DEVICE ? Role.TAIL : Role.DEVICE;
      if (!issued(other, id).isEmpty()) {
        throw new ProvisionException("'" + id + "' is already a " + other.name().toLowerCase() + " identity in fleet " + fleet
            + "; device and tail ids must differ (the ACL grants by certificate CN)");
      }
    }
    PrivateKey caKey = Pki.readKey(dir.resolve("ca.key"));
    KeyPair kp = Pki.newP256();
    BigInteger serial = freshSerial();
    try {
      X500Name subject = new X500Name(role == Role.BROKER ? "CN=" + id + ",O=SplitRT" : "CN=" + id + ",OU=" + fleet + ",O=SplitRT");
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caCert, serial, Date.from(notBefore), Date.from(notAfter),
          subject, kp.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(role == Role.BROKER ? KeyPurposeId.id_kp_serverAuth : KeyPurposeId.id_kp_clientAuth));
      b.addExtension(Extension.subjectAlternativeName, false, sans(role, id, hosts));
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
      X509Certificate cert = toCert(b.build(signer(caKey)));
      Path certFile = outDir.resolve(id + ".pem");
      Path keyFile = outDir.resolve(id + ".key");
      Files.createDirectories(outDir);
      Pki.write(keyFile, Pem.encode(kp.getPrivate()), Pki.OWNER_ONLY);
      Pki.write(certFile, Pem.encode(cert), Pki.PUBLIC_FILE);
      Pki.write(dir.resolve("issued").resolve(role.name().toLowerCase() + "-" + id + "-" + serial.toString(16) + ".pem"), Pem.encode(cert),
          Pki.PUBLIC_FILE);
      if (role != Role.ADMIN || Files.isRegularFile(dir.resolve("broker").resolve("mosquitto.conf"))) writeBrokerFiles();
      log.info("fleet {}: issued {} certificate CN={} serial {} valid {} .. {} -> {}", fleet, role.name().toLowerCase(), id,
          serial.toString(16), notBefore, notAfter, certFile);
      return new Issued(role, id, serial, notBefore, notAfter, certFile, keyFile);
    } catch (IOException | GeneralSecurityException e) {
      throw new ProvisionException("cannot issue the certificate for '" + id + "': " + e.getMessage(), e);
    }
  }

  /**
   * Revokes every certificate issued to {@code id} that is not revoked yet, re-signs the CRL and
   * rewrites the ACL (a revoked tail loses its grants). The broker enforces it after it re-reads the
   * CRL (Mosquitto 2.0: SIGHUP, measured with 2.0.11; see provisioning.md). Returns the serials revoked now.
   */
  public List<BigInteger> revoke(String id) throws ProvisionException {
    X509CRL crl = Pki.readCrl(crlFile());
    List<BigInteger> fresh = new ArrayList<>();
    for (Map.Entry<Path, X509Certificate> e : issuedAll().entrySet()) {
      X509Certificate c = e.getValue();
      if (Pki.commonName(c).equals(id) && !e.getKey().getFileName().toString().startsWith("broker-") && crl.getRevokedCertificate(c) == null) {
        fresh.add(c.getSerialNumber());
      }
    }
    if (fresh.isEmpty()) {
      boolean known = issuedAll().values().stream().anyMatch(c -> Pki.commonName(c).equals(id));
      throw new ProvisionException(known ? "every certificate of '" + id + "' is already revoked; nothing to do"
          : "no certificate was issued to '" + id + "' by the CA in " + dir + "; check the id ('ls " + dir.resolve("issued") + "')");
    }
    writeCrl(crl, fresh);
    try {
      writeBrokerFiles();
    } catch (IOException e) {
      throw new ProvisionException("CRL written, but the broker files in " + brokerDir() + " could not be rewritten: " + e.getMessage(), e);
    }
    log.info("fleet {}: revoked {} certificate(s) of {} (serials {}); CRL {} re-signed", fleet, fresh.size(), id,
        fresh.stream().map(s -> s.toString(16)).toList(), crlFile());
    return fresh;
  }

  /** Re-signs the CRL with the same entries and a new nextUpdate (a CRL past nextUpdate makes OpenSSL refuse every client). */
  public Instant renewCrl() throws ProvisionException {
    writeCrl(Pki.readCrl(crlFile()), List.of());
    try {
      writeBrokerFiles();
    } catch (IOException e) {
      throw new ProvisionException("CRL re-signed, but its copy in " + brokerDir() + " could not be written: " + e.getMessage(), e);
    }
    return Pki.readCrl(crlFile()).getNextUpdate().toInstant();
  }

  /** Whether {@code cert}'s serial is on this CA's CRL. */
  public boolean isRevoked(X509Certificate cert) throws ProvisionException {
    return Pki.readCrl(crlFile()).getRevokedCertificate(cert) != null;
  }

  /** Ids with at least one certificate of {@code role} that is not revoked. */
  public Set<String> activeIds(Role role) throws ProvisionException {
    Set<String> ids = new TreeSet<>();
    X509CRL crl = Pki.readCrl(crlFile());
    String prefix = role.name().toLowerCase() + "-";
    for (Map.Entry<Path, X509Certificate> e : issuedAll().entrySet()) {
      if (e.getKey().getFileName().toString().startsWith(prefix) && crl.getRevokedCertificate(e.getValue()) == null) {
        ids.add(Pki.commonName(e.getValue()));
      }
    }
    return ids;
  }

  /** The dynamic-security plugin's config for this fleet (see {@link BrokerFiles#dynsecJson}). */
  public String dynsecJson() throws ProvisionException {
    return BrokerFiles.dynsecJson(fleet, activeIds(Role.DEVICE), activeIds(Role.TAIL));
  }

  /** The listener config for this fleet's broker settings (fleet.yaml). */
  public String mosquittoConf() {
    return mosquittoConf(broker);
  }

  /** The listener config for {@code settings} (tests start brokers on other ports with the same files). */
  public String mosquittoConf(BrokerSettings settings) {
    return BrokerFiles.mosquittoConf(fleet, brokerDir().toAbsolutePath(), dynsecFile().toAbsolutePath(), settings.resolved());
  }

  /**
   * Rewrites everything under DIR/broker from the issued certificates and fleet.yaml: copies of the CA
   * certificate and the CRL, mosquitto.conf and the dynamic-security config, modes for the broker group.
   */
  void writeBrokerFiles() throws IOException {
    try {
      BrokerFiles.write(this, dynsecJson());
    } catch (ProvisionException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** Every certificate in {@code issued/} by file; the file name starts with the role. */
  Map<Path, X509Certificate> issuedAll() throws ProvisionException {
    Map<Path, X509Certificate> out = new LinkedHashMap<>();
    Path issued = dir.resolve("issued");
    if (!Files.isDirectory(issued)) return out;
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(issued, "*.pem")) {
      ds.forEach(files::add);
    } catch (IOException e) {
      throw new ProvisionException("cannot list " + issued + ": " + e.getMessage(), e);
    }
    files.sort(null);
    for (Path f : files) out.put(f, Pki.readCert(f));
    return out;
  }

  List<X509Certificate> issued(Role role, String id) throws ProvisionException {
    String prefix = role.name().toLowerCase() + "-" + id + "-";
    List<X509Certificate> out = new ArrayList<>();
    for (Map.Entry<Path, X509Certificate> e : issuedAll().entrySet()) {
      if (e.getKey().getFileName().toString().startsWith(prefix) && Pki.commonName(e.getValue()).equals(id)) out.add(e.getValue());
    }
    return out;
  }

  /** Signs the CA manifest signature used by bundles: ECDSA over {@code data} with the CA key. */
  byte[] sign(byte[] data) throws ProvisionException {
    PrivateKey key = Pki.readKey(dir.resolve("ca.key"));
    try {
      java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(data);
      return s.sign();
    } catch (GeneralSecurityException e) {
      throw new ProvisionException("cannot sign with the CA key in " + dir + ": " + e.getMessage(), e);
    }
  }

  static boolean verifySignature(PublicKey key, byte[] data, byte[] signature) {
    try {
      java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
      s.initVerify(key);
      s.update(data);
      return s.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private BigInteger freshSerial() throws ProvisionException {
    Set<BigInteger> used = new TreeSet<>();
    used.add(caCert.getSerialNumber());
    for (X509Certificate c : issuedAll().values()) used.add(c.getSerialNumber());
    BigInteger s;
    do {
      s = Pki.newSerial();
    } while (used.contains(s));
    return s;
  }

  private void writeCrl(X509CRL existing, List<BigInteger> add) throws ProvisionException {
    try {
      PrivateKey caKey = Pki.readKey(dir.resolve("ca.key"));
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      X509v2CRLBuilder b = new X509v2CRLBuilder(X500Name.getInstance(caCert.getSubjectX500Principal().getEncoded()), Date.from(now));
      b.setNextUpdate(Date.from(now.plus(CRL_VALIDITY)));
      BigInteger number = BigInteger.ONE;
      if (existing != null) {
        X509CRLHolder holder = new X509CRLHolder(existing.getEncoded());
        b.addCRL(holder);
        byte[] n = existing.getExtensionValue(Extension.cRLNumber.getId());
        if (n != null) {
          number = CRLNumber.getInstance(org.bouncycastle.asn1.ASN1OctetString.getInstance(n).getOctets()).getCRLNumber().add(BigInteger.ONE);
        }
      }
      for (BigInteger serial : add) b.addCRLEntry(serial, Date.from(now), CRLReason.keyCompromise);
      b.addExtension(Extension.cRLNumber, false, new CRLNumber(number));
      b.addExtension(Extension.authorityKeyIdentifier, false, new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(caCert));
      X509CRL crl = new JcaX509CRLConverter().getCRL(b.build(signer(caKey)));
      Pki.write(crlFile(), Pem.encode(crl), Pki.PUBLIC_FILE);
    } catch (IOException | GeneralSecurityException e) {
      throw new ProvisionException("cannot write the CRL " + crlFile() + ": " + e.getMessage(), e);
    }
  }

  /** Serials on the CRL (for reports). */
  public List<BigInteger> revokedSerials() throws ProvisionException {
    List<BigInteger> out = new ArrayList<>();
    Set<? extends X509CRLEntry> entries = Pki.readCrl(crlFile()).getRevokedCertificates();
    if (entries != null) for (X509CRLEntry e : entries) out.add(e.getSerialNumber());
    return out;
  }

  private GeneralNames sans(Role role, String id, List<String> hosts) throws ProvisionException {
    List<GeneralName> names = new ArrayList<>();
    if (role == Role.BROKER) {
      List<String> all = hosts == null || hosts.isEmpty() ? List.of(id) : hosts;
      for (String h : all) {
        if (h.matches("[0-9.]+") || h.contains(":")) {
          try {
            names.add(new GeneralName(GeneralName.iPAddress, InetAddress.getByName(h).getHostAddress()));
          } catch (UnknownHostException e) {
            throw new ProvisionException("broker host '" + h + "' is not an IP address; give a DNS name or an address");
          }
        } else {
          names.add(new GeneralName(GeneralName.dNSName, h));
        }
      }
    } else {
      names.add(new GeneralName(GeneralName.uniformResourceIdentifier, "urn:splitrt:" + fleet + ":" + role.name().toLowerCase() + ":" + id));
    }
    return new GeneralNames(names.toArray(new GeneralName[0]));
  }

  private static ContentSigner signer(PrivateKey key) throws GeneralSecurityException {
    try {
      return new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign with SHA256withECDSA: " + e.getMessage(), e);
    }
  }

  private static X509Certificate toCert(X509CertificateHolder h) throws GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(h);
  }
}

package dev.splitrt.provision;

import dev.splitrt.config.ConfigException;
import dev.splitrt.config.EdgeConfig;
import dev.splitrt.config.Yaml;
import dev.splitrt.infer.tensorrt.EngineReport;
import dev.splitrt.infer.tensorrt.TensorRtBackend;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs a {@link DeviceBundle} on the device: every file's SHA-256 and the CA's signature over
 * the manifest are checked in a staging folder before anything under the install root changes; a
 * good bundle becomes {@code ROOT/versions/N} and {@code ROOT/current} is switched to it atomically
 * (a symlink renamed over the old one). The previous version stays for {@link #rollback}.
 * Installing the same bundle again changes nothing.
 */
public final class BundleInstaller {
  private static final Logger log = LoggerFactory.getLogger(BundleInstaller.class);

  /**
   * {@code changed}: false when the bundle was already the current version. {@code engine}: what the
   * optional TensorRT pre-build did (built, reused, or why it was skipped).
   */
  public record Installed(int version, Path dir, boolean changed, String deviceId, String caFingerprint, Optional<String> engine) {}

  /**
   * {@code trustedCa}: the fleet CA the bundle must be signed by; null = the CA of the version
   * installed now. {@code caFingerprint}: the fleet CA's SHA-256 as {@code ca init} printed it
   * ({@code SHA256:<hex>}; colons and case ignored), checked on every install where given. A first
   * install needs one of the two, unless {@code trustOnFirstUse} says to accept the bundle's own CA.
   * {@code owner}: user to own the installed files (needs root; the systemd unit's User=); null = us.
   */
  public record Options(Path trustedCa, boolean buildEngine, String owner, String caFingerprint, boolean trustOnFirstUse) {
    public Options(Path trustedCa, boolean buildEngine, String owner) {
      this(trustedCa, buildEngine, owner, null, false);
    }

    /** No pin: refused on a first install; later installs trust the installed version's CA. */
    public static Options defaults() {
      return new Options(null, false, null, null, false);
    }

    /** Pinned to the fleet CA's fingerprint. */
    public static Options pinned(String caFingerprint) {
      return new Options(null, false, null, caFingerprint, false);
    }
  }

  /** {@code SHA256:<hex>}, {@code sha256:AB:CD:…} or bare hex, to 64 lowercase hex digits; null when it is not one. */
  static String normalizeFingerprint(String f) {
    if (f == null) return null;
    String h = f.trim().replaceFirst("(?i)^sha-?256:", "").replace(":", "").toLowerCase(java.util.Locale.ROOT);
    return h.matches("[0-9a-f]{64}") ? h : null;
  }

  private BundleInstaller() {}

  public static Installed install(Path bundle, Path root, Options options, Consumer<String> progress) throws ProvisionException {
    if (!Files.isRegularFile(bundle)) throw new ProvisionException(bundle + ": bundle not found; give the .tar.gz written by 'splitrt provision device'");
    Path stage;
    try {
      Files.createDirectories(root);
      stage = Files.createTempDirectory(root, ".incoming-", PosixFilePermissions.asFileAttribute(Pki.OWNER_DIR));
    } catch (IOException e) {
      throw new ProvisionException("cannot create the install root " + root + " (" + e.getMessage() + "); run as a user who may write there", e);
    }
    boolean moved = false;
    try {
      List<Tar.Extracted> files = Tar.extract(bundle, stage);
      byte[] manifest = check(bundle, stage, files);
      X509Certificate ca = trustAndSignature(bundle, stage, root, manifest, options, progress);
      DeviceBundle.Meta meta = Yaml.parse(DeviceBundle.text(Files.readAllBytes(stage.resolve(DeviceBundle.META))), bundle + "!" + DeviceBundle.META,
          DeviceBundle.Meta.class);
      checkIdentity(bundle, stage, ca, meta);
      EdgeConfig.read(stage.resolve(DeviceBundle.CONFIG));
      Optional<Integer> current = currentVersion(root);
      if (current.isPresent()) {
        Path cur = root.resolve("versions").resolve(String.valueOf(current.get()));
        Path curManifest = cur.resolve(DeviceBundle.MANIFEST);
        if (Files.isRegularFile(curManifest) && java.util.Arrays.equals(Files.readAllBytes(curManifest), manifest)) {
          progress.accept("bundle " + bundle.getFileName() + " is already installed as version " + current.get() + "; nothing changed");
          return new Installed(current.get(), cur, false, meta.deviceId(), Pki.fingerprint(ca), Optional.empty());
        }
      }
      applyModes(stage, files);
      if (options.owner() != null) chown(stage, options.owner());
      Path versions = Files.createDirectories(root.resolve("versions"));
      int n = versions(root).stream().mapToInt(Integer::intValue).max().orElse(0) + 1;
      Path target = versions.resolve(String.valueOf(n));
      Files.setPosixFilePermissions(stage, Pki.PUBLIC_DIR);
      Files.move(stage, target, StandardCopyOption.ATOMIC_MOVE);
      moved = true;
      switchCurrent(root, n);
      for (String d : List.of("engines", "cache")) Files.createDirectories(root.resolve(d));
      // The spool's folder (state_dir in the bundle's edge.yaml): private to the service user, kept across versions.
      Path state = root.resolve(DeviceBundle.STATE);
      if (!Files.isDirectory(state)) {
        Files.createDirectories(state);
        Files.setPosixFilePermissions(state, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        if (options.owner() != null) chown(state, options.owner());
      }
      prune(root, n, current.orElse(null));
      progress.accept("installed device " + meta.deviceId() + " (fleet " + meta.fleet() + ", model " + meta.model() + ") as version " + n
          + (current.isPresent() ? "; version " + current.get() + " kept for 'install --rollback'" : ""));
      log.info("bundle {} installed as {} (device {}, CA {})", bundle, target, meta.deviceId(), Pki.fingerprint(ca));
      Optional<String> engine = options.buildEngine() ? Optional.of(prebuild(target, root, meta, progress)) : Optional.empty();
      return new Installed(n, target, true, meta.deviceId(), Pki.fingerprint(ca), engine);
    } catch (IOException e) {
      throw new ProvisionException("cannot install " + bundle + " into " + root + ": " + e.getMessage(), e);
    } catch (ConfigException e) {
      throw new ProvisionException(bundle + ": " + e.getMessage(), e);
    } finally {
      if (!moved) DeviceBundle.deleteTree(stage);
    }
  }

  /** Points {@code current} back at the newest kept version older than the current one. */
  public static Installed rollback(Path root) throws ProvisionException {
    Optional<Integer> current = currentVersion(root);
    if (current.isEmpty()) throw new ProvisionException(root + ": nothing is installed (no 'current' link); install a bundle first");
    Optional<Integer> previous = versions(root).stream().filter(v -> v < current.get()).max(Integer::compare);
    if (previous.isEmpty()) {
      throw new ProvisionException(root + ": version " + current.get() + " is the oldest kept; there is nothing to roll back to");
    }
    try {
      switchCurrent(root, previous.get());
    } catch (IOException e) {
      throw new ProvisionException("cannot switch " + root.resolve("current") + ": " + e.getMessage(), e);
    }
    log.info("{}: rolled back from version {} to {}", root, current.get(), previous.get());
    Path dir = root.resolve("versions").resolve(String.valueOf(previous.get()));
    String device = "";
    try {
      device = Yaml.parse(DeviceBundle.text(Files.readAllBytes(dir.resolve(DeviceBundle.META))), DeviceBundle.META, DeviceBundle.Meta.class).deviceId();
    } catch (IOException | ConfigException e) {
      log.warn("{}: cannot read {}: {}", dir, DeviceBundle.META, e.getMessage());
    }
    return new Installed(previous.get(), dir, true, device, "", Optional.empty());
  }

  /** The version {@code ROOT/current} points at, if any. */
  public static Optional<Integer> currentVersion(Path root) throws ProvisionException {
    Path link = root.resolve("current");
    if (!Files.isSymbolicLink(link)) return Optional.empty();
    try {
      String name = Files.readSymbolicLink(link).getFileName().toString();
      return Optional.of(Integer.parseInt(name));
    } catch (IOException | NumberFormatException e) {
      throw new ProvisionException(link + " does not point at versions/N (" + e.getMessage() + "); reinstall the bundle", e);
    }
  }

  /** Checks that the manifest names exactly the files present, with matching SHA-256; returns the manifest bytes. */
  private static byte[] check(Path bundle, Path stage, List<Tar.Extracted> files) throws ProvisionException, IOException {
    Set<String> present = new HashSet<>();
    for (Tar.Extracted f : files) present.add(f.name());
    for (String required : List.of(DeviceBundle.MANIFEST, DeviceBundle.SIGNATURE)) {
      if (!present.contains(required)) throw new ProvisionException(bundle + ": " + required + " is missing: not a SplitRT bundle or damaged; refused");
    }
    byte[] manifest = Files.readAllBytes(stage.resolve(DeviceBundle.MANIFEST));
    Map<String, String> listed = new HashMap<>();
    for (String line : new String(manifest, StandardCharsets.UTF_8).split("\n")) {
      if (line.isBlank()) continue;
      if (!line.matches("[0-9a-f]{64}  \\S+")) throw new ProvisionException(bundle + ": " + DeviceBundle.MANIFEST + " has a malformed line '" + line + "'; refused");
      listed.put(line.substring(66), line.substring(0, 64));
    }
    for (Map.Entry<String, String> e : listed.entrySet()) {
      if (!present.contains(e.getKey())) throw new ProvisionException(bundle + ": " + e.getKey() + " is listed in " + DeviceBundle.MANIFEST + " but missing; refused");
      String actual = Pki.sha256(Files.readAllBytes(stage.resolve(e.getKey())));
      if (!actual.equals(e.getValue())) {
        throw new ProvisionException(bundle + ": " + e.getKey() + " does not match its SHA-256 in " + DeviceBundle.MANIFEST + " (expected "
            + e.getValue() + ", found " + actual + "): the bundle was altered or damaged; refused, nothing installed. Get a fresh bundle");
      }
    }
    for (String name : present) {
      if (!listed.containsKey(name) && !name.equals(DeviceBundle.MANIFEST) && !name.equals(DeviceBundle.SIGNATURE)) {
        throw new ProvisionException(bundle + ": " + name + " is not listed in " + DeviceBundle.MANIFEST + " (added after signing); refused");
      }
    }
    return manifest;
  }

  private static X509Certificate trustAndSignature(Path bundle, Path stage, Path root, byte[] manifest, Options options,
      Consumer<String> progress) throws ProvisionException, IOException {
    Path trustedCa = options.trustedCa();
    X509Certificate bundled = Pki.readCert(stage.resolve(DeviceBundle.CA));
    X509Certificate trusted;
    String source;
    Path installedCa = root.resolve("current").resolve(DeviceBundle.CA);
    if (options.caFingerprint() != null) {
      String pin = normalizeFingerprint(options.caFingerprint());
      if (pin == null) {
        throw new ProvisionException("--ca-fingerprint '" + options.caFingerprint() + "' is not a SHA-256 fingerprint; give it as "
            + "'splitrt provision ca init' printed it: SHA256:<64 hex digits>");
      }
      if (!pin.equals(Pki.fingerprint(bundled))) {
        throw new ProvisionException(bundle + ": " + DeviceBundle.CA + " (SHA256:" + Pki.fingerprint(bundled) + ") is not the pinned fleet CA (SHA256:"
            + pin + "); refused, nothing installed. Get the bundle from your fleet's operator, or check the fingerprint you pinned");
      }
    }
    if (trustedCa != null) {
      trusted = Pki.readCert(trustedCa);
      source = trustedCa.toString();
    } else if (Files.isRegularFile(installedCa)) {
      trusted = Pki.readCert(installedCa);
      source = "the installed version's " + DeviceBundle.CA;
    } else if (options.caFingerprint() != null) {
      trusted = bundled;
      source = "the pinned fingerprint";
      progress.accept("first install: the bundle's fleet CA matches the pinned fingerprint SHA256:" + Pki.fingerprint(bundled));
    } else if (options.trustOnFirstUse()) {
      trusted = bundled;
      source = null;
      progress.accept("first install: trusting the bundle's fleet CA on first use (--trust-on-first-use), SHA-256 fingerprint SHA256:"
          + Pki.fingerprint(bundled) + "; compare it with what 'splitrt provision ca init' printed");
    } else {
      throw new ProvisionException(bundle + ": first install, and no fleet CA is pinned: anyone could have signed this bundle. Pin the "
          + "fleet CA: --ca-fingerprint SHA256:<hex> as 'splitrt provision ca init' printed it (or 'openssl x509 -in pki/ca.pem -noout "
          + "-fingerprint -sha256' on the operator's machine), or --trust-ca FILE with the fleet's ca.pem; --trust-on-first-use accepts the "
          + "bundle's own CA (SHA256:" + Pki.fingerprint(bundled) + ") only if you have compared it. Nothing installed");
    }
    if (!Pki.fingerprint(trusted).equals(Pki.fingerprint(bundled))) {
      throw new ProvisionException(bundle + ": " + DeviceBundle.CA + " is a different CA (" + Pki.fingerprint(bundled) + ") than the trusted one from "
          + source + " (" + Pki.fingerprint(trusted) + "); refused. Use a bundle from this fleet's CA, or pass --trust-ca to move fleets");
    }
    byte[] sig;
    try {
      sig = Base64.getDecoder().decode(DeviceBundle.text(Files.readAllBytes(stage.resolve(DeviceBundle.SIGNATURE))).trim());
    } catch (IllegalArgumentException e) {
      throw new ProvisionException(bundle + ": " + DeviceBundle.SIGNATURE + " is not base64; refused");
    }
    if (!FleetCa.verifySignature(trusted.getPublicKey(), manifest, sig)) {
      throw new ProvisionException(bundle + ": " + DeviceBundle.MANIFEST + " is not signed by the fleet CA (" + DeviceBundle.SIGNATURE
          + " does not verify): the manifest was altered; refused, nothing installed");
    }
    return trusted;
  }

  private static void checkIdentity(Path bundle, Path stage, X509Certificate ca, DeviceBundle.Meta meta) throws ProvisionException {
    X509Certificate cert = Pki.readCert(stage.resolve(DeviceBundle.CERT));
    try {
      cert.verify(ca.getPublicKey());
    } catch (java.security.GeneralSecurityException e) {
      throw new ProvisionException(bundle + ": " + DeviceBundle.CERT + " is not signed by the bundle's CA; refused");
    }
    if (!Pki.commonName(cert).equals(meta.deviceId())) {
      throw new ProvisionException(bundle + ": " + DeviceBundle.CERT + " is for '" + Pki.commonName(cert) + "' but the bundle is for '"
          + meta.deviceId() + "'; refused");
    }
    Pki.readKey(stage.resolve(DeviceBundle.KEY));
  }

  /** Files get the archive's mode (never wider than 0644; the key stays 0600), folders 0755 (tls/ 0700). */
  private static void applyModes(Path stage, List<Tar.Extracted> files) throws IOException {
    for (Tar.Extracted f : files) {
      boolean secret = f.name().equals(DeviceBundle.KEY) || (f.mode() & 0077) == 0;
      Files.setPosixFilePermissions(f.path(), secret ? Pki.OWNER_ONLY : Pki.PUBLIC_FILE);
    }
    try (Stream<Path> s = Files.walk(stage)) {
      for (Path d : s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList()) {
        Files.setPosixFilePermissions(d, d.equals(stage.resolve("tls")) ? Pki.OWNER_DIR : Pki.PUBLIC_DIR);
      }
    }
  }

  private static void chown(Path stage, String owner) throws ProvisionException, IOException {
    UserPrincipal user;
    try {
      user = stage.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(owner);
    } catch (IOException e) {
      throw new ProvisionException("--owner '" + owner + "' is not a user here; create it (useradd --system " + owner + ") or leave --owner out");
    }
    try (Stream<Path> s = Files.walk(stage)) {
      for (Path p : s.toList()) Files.setOwner(p, user);
    } catch (java.nio.file.FileSystemException e) {
      throw new ProvisionException("cannot give the files to '" + owner + "' (" + e.getMessage() + "); run install as root for --owner");
    }
  }

  private static void switchCurrent(Path root, int version) throws IOException {
    Path link = root.resolve("current");
    Path tmp = root.resolve(".current-" + version + "-" + ProcessHandle.current().pid());
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, Path.of("versions", String.valueOf(version)));
    try {
      Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  static List<Integer> versions(Path root) throws ProvisionException {
    Path dir = root.resolve("versions");
    List<Integer> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (n.matches("\\d{1,9}") && Files.isDirectory(p)) out.add(Integer.parseInt(n));
      }
    } catch (IOException e) {
      throw new ProvisionException("cannot list " + dir + ": " + e.getMessage(), e);
    }
    out.sort(null);
    return out;
  }

  /** Keeps the new version and the one it replaced; older ones are deleted. */
  private static void prune(Path root, int now, Integer previous) throws ProvisionException {
    Set<Integer> keep = new TreeSet<>(List.of(now));
    if (previous != null) keep.add(previous);
    for (int v : versions(root)) {
      if (!keep.contains(v)) DeviceBundle.deleteTree(root.resolve("versions").resolve(String.valueOf(v)));
    }
  }

  /**
   * Builds (or finds in the cache) the head's TensorRT engine the edge daemon will load: same cache
   * folder (ROOT/engines, the unit's SPLITRT_ENGINE_CACHE), same precision (fp32) and no profile, as
   * the daemon's backend. Where TensorRT does not load this says why and the install stands.
   */
  private static String prebuild(Path version, Path root, DeviceBundle.Meta meta, Consumer<String> progress) {
    TensorRtBackend probe;
    try {
      probe = new TensorRtBackend(null, root.resolve("engines"));
      Optional<String> why = probe.unavailableReason();
      if (why.isPresent()) {
        String msg = "TensorRT engine not pre-built: TensorRT does not load here (" + why.get()
            + "); the edge daemon falls back to ONNX Runtime, or builds the engine at first start where TensorRT loads";
        progress.accept(msg);
        return msg;
      }
    } catch (Throwable t) {
      String msg = "TensorRT engine not pre-built: TensorRT does not load here (" + t + "); the edge daemon falls back to ONNX Runtime";
      progress.accept(msg);
      return msg;
    }
    try {
      LoadedModel model = new ModelRegistry(version.resolve("models")).loadHead(meta.model());
      EngineReport r = probe.build(model.head(), "fp32", false, progress);
      String msg = "TensorRT engine for " + meta.model() + " head " + (r.fromCache() ? "found in the cache" : "built in " + r.buildMillis() + " ms")
          + ": " + r.file();
      progress.accept(msg);
      return msg;
    } catch (Exception e) {
      String msg = "TensorRT engine build failed (" + e.getMessage() + "); the install stands, the edge daemon will try again at start";
      progress.accept(msg);
      return msg;
    }
  }
}

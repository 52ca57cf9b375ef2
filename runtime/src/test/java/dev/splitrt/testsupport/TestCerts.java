package dev.splitrt.testsupport;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A throw-away PKI made with the {@code openssl} command line: a CA, a broker certificate for
 * 127.0.0.1/localhost and a client (device) certificate, all EC P-256 with PKCS#8 keys, valid two days.
 */
public record TestCerts(Path caCert, Path caKey, Path serverCert, Path serverKey, Path clientCert, Path clientKey) {

  /** Skips the calling test when {@code openssl} is not on the PATH; fails it on CI (env CI=true). */
  public static void assumeOpenssl() {
    try {
      if (new ProcessBuilder("openssl", "version").redirectErrorStream(true).start().waitFor() == 0) {
        return;
      }
    } catch (IOException e) {
      // not installed
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    String reason = "openssl is not on the PATH: install the Debian package 'openssl' to run the TLS tests";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(reason + " (CI=true, so this is a failure, not a skip)");
    }
    System.out.println("SKIPPED: " + reason);
    Assumptions.assumeTrue(false, reason);
  }

  public static TestCerts generate(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path ca = dir.resolve("ca.pem");
    Path caKey = dir.resolve("ca.key");
    openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", caKey.toString(), "-out", ca.toString(), "-days", "2", "-subj", "/CN=splitrt-test-ca");
    Path server = leaf(dir, "server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", ca, caKey);
    Path client = leaf(dir, "client", "/CN=device-1", "extendedKeyUsage=clientAuth\n", ca, caKey);
    return new TestCerts(ca, caKey, server, dir.resolve("server.key"), client, dir.resolve("client.key"));
  }

  /** Writes an EC or RSA key in PKCS#8 ({@code BEGIN PRIVATE KEY}) with openssl genpkey. */
  public static Path key(Path dir, String name, String algorithm) throws IOException {
    Path key = dir.resolve(name);
    List<String> args = new ArrayList<>(List.of("genpkey", "-algorithm", algorithm, "-out", key.toString()));
    if (algorithm.equals("EC")) {
      args.addAll(List.of("-pkeyopt", "ec_paramgen_curve:P-256"));
    } else {
      args.addAll(List.of("-pkeyopt", "rsa_keygen_bits:2048"));
    }
    openssl(dir, args.toArray(new String[0]));
    return key;
  }

  /** Runs openssl in {@code dir}; fails with its output when it exits non-zero. */
  public static String openssl(Path dir, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException("openssl " + String.join(" ", args) + " failed:\n" + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: openssl " + String.join(" ", args), e);
    }
    return out;
  }

  private static Path leaf(Path dir, String name, String subject, String ext, Path ca, Path caKey) throws IOException {
    Path key = dir.resolve(name + ".key");
    Path csr = dir.resolve(name + ".csr");
    Path cert = dir.resolve(name + ".pem");
    Path extFile = dir.resolve(name + ".ext");
    Files.writeString(extFile, ext);
    openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key.toString(), "-out", csr.toString(), "-subj", subject);
    openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", ca.toString(), "-CAkey", caKey.toString(),
        "-CAcreateserial", "-out", cert.toString(), "-days", "2", "-extfile", extFile.toString());
    return cert;
  }
}

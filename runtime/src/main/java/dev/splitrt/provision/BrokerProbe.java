package dev.splitrt.provision;

import dev.splitrt.transport.MqttSettings;
import dev.splitrt.transport.Pem;
import dev.splitrt.transport.ReasonCode;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.InputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * A bare MQTT 5 conversation over TLS (CONNECT, SUBSCRIBE, DISCONNECT) that reports exactly where
 * the broker stops a device: TCP, the TLS handshake (with the alert the broker sent), CONNACK, or a
 * SUBACK code. {@link dev.splitrt.transport.MqttLink} retries such failures forever by design;
 * {@code verify} needs the first failure's cause instead.
 */
final class BrokerProbe {
  enum Stage { UNREACHABLE, BROKER_UNTRUSTED, TLS_REFUSED, CONNECT_REFUSED, OK }

  record Result(Stage stage, String detail, List<Integer> subackCodes, TlsRefusal refusal) {
    Result(Stage stage, String detail, List<Integer> subackCodes) {
      this(stage, detail, subackCodes, TlsRefusal.NONE);
    }
  }

  /** How long to wait after the handshake for a TLS 1.3 alert before sending CONNECT (a refusal normally comes in ms). */
  static final int POST_HANDSHAKE_READ_MS = 1000;

  private BrokerProbe() {}

  static Result run(String url, Path caFile, Path certFile, Path keyFile, String clientId, List<String> filters, int timeoutMs) {
    return run(url, caFile, certFile, keyFile, clientId, filters, timeoutMs, null);
  }

  /** {@code protocols}: the TLS versions to offer (null: the JVM's defaults, TLS 1.3 and 1.2). */
  static Result run(String url, Path caFile, Path certFile, Path keyFile, String clientId, List<String> filters, int timeoutMs,
      String[] protocols) {
    URI uri = URI.create(url.replaceFirst("^mqtts://", "ssl://"));
    String host = uri.getHost();
    int port = uri.getPort() == -1 ? 8883 : uri.getPort();
    SSLContext ctx;
    try {
      ctx = Pem.context(new MqttSettings.Tls(caFile, certFile, keyFile));
    } catch (Exception e) {
      return new Result(Stage.TLS_REFUSED, "cannot build the TLS context from the bundle's files: " + e.getMessage(), List.of());
    }
    Socket plain = new Socket();
    try {
      plain.connect(new InetSocketAddress(host, port), timeoutMs);
    } catch (ConnectException | SocketTimeoutException e) {
      closeQuietly(plain);
      return new Result(Stage.UNREACHABLE, "no TCP connection to " + host + ":" + port + " (" + e.getMessage()
          + "): is the broker running and the port open (firewall)?", List.of());
    } catch (IOException e) {
      closeQuietly(plain);
      return new Result(Stage.UNREACHABLE, "cannot reach " + host + ":" + port + " (" + e + ")", List.of());
    }
    boolean sentCertificate = certFile != null;
    try (plain; EngineChannel t = new EngineChannel(plain, ctx.createSSLEngine(host, port))) {
      plain.setSoTimeout(timeoutMs);
      SSLParameters p = t.engine.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      if (protocols != null) p.setProtocols(protocols);
      t.engine.setSSLParameters(p);
      t.engine.setUseClientMode(true);
      try {
        t.handshake();
      } catch (SSLHandshakeException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("PKIX") || m.contains("No subject alternative") || m.contains("No name matching")) {
          return new Result(Stage.BROKER_UNTRUSTED, "the broker's certificate is not trusted with the bundle's CA or does not name '"
              + host + "' (" + m + "): give the broker a certificate from this fleet's CA with '" + host + "' in its SAN", List.of());
        }
        if (TlsRefusal.fromAlert(e, sentCertificate) == null) return afterHandshake(url, caFile, certFile, keyFile, clientId, filters,
            timeoutMs, protocols, e, sentCertificate);
        return refused("TLS handshake refused", e, sentCertificate);
      } catch (SSLException e) {
        return refused("TLS handshake refused", e, sentCertificate);
      } catch (IOException e) {
        return afterHandshake(url, caFile, certFile, keyFile, clientId, filters, timeoutMs, protocols, e, sentCertificate);
      }
      DataInputStream in = new DataInputStream(t.input());
      OutputStream out = t.output();
      try {
        // TLS 1.3: the broker judges our certificate after our handshake returned. The broker sends
        // nothing before CONNECT, so a short read either times out (accepted) or brings the alert.
        if ("TLSv1.3".equals(t.engine.getSession().getProtocol())) {
          plain.setSoTimeout(Math.min(timeoutMs, POST_HANDSHAKE_READ_MS));
          try {
            int b = in.read();
            if (b == -1) throw new EOFException("the broker closed the connection right after the handshake");
            return new Result(Stage.CONNECT_REFUSED, "the broker sent data before CONNECT (byte 0x" + Integer.toHexString(b)
                + "): is this an MQTT listener?", List.of());
          } catch (SocketTimeoutException e) {
            // nothing pending: the certificate was accepted
          }
          plain.setSoTimeout(timeoutMs);
        }
        out.write(connect(clientId));
        out.flush();
        int[] connack = packet(in);
        if (connack[0] != 0x20 || connack.length < 3) {
          return new Result(Stage.CONNECT_REFUSED, "the broker answered CONNECT with packet type 0x" + Integer.toHexString(connack[0]), List.of());
        }
        if (connack[2] != 0) {
          return new Result(Stage.CONNECT_REFUSED, "CONNACK reason 0x" + Integer.toHexString(connack[2])
              + (ReasonCode.of(connack[2] & 0xff) == ReasonCode.NOT_AUTHORIZED || ReasonCode.of(connack[2] & 0xff) == ReasonCode.BAD_USER_NAME_OR_PASSWORD ? " (not authorized / bad credentials: check use_identity_as_username and the ACL)" : ""),
              List.of());
        }
      } catch (IOException e) {
        return afterHandshake(url, caFile, certFile, keyFile, clientId, filters, timeoutMs, protocols, e, sentCertificate);
      }
      List<Integer> codes = new ArrayList<>();
      if (!filters.isEmpty()) {
        out.write(subscribe(filters));
        out.flush();
        int[] suback;
        do {
          suback = packet(in);
        } while (suback[0] != 0x90);
        int propLen = varint(suback, 3);
        int at = 3 + varintSize(propLen) + propLen;
        for (int i = at; i < suback.length; i++) codes.add(suback[i]);
      }
      out.write(new byte[] {(byte) 0xE0, 0});
      out.flush();
      return new Result(Stage.OK, "TLS handshake, CONNECT and SUBSCRIBE answered", codes);
    } catch (IOException e) {
      return new Result(Stage.TLS_REFUSED, "the connection failed during the MQTT exchange (" + e + ")", List.of(), TlsRefusal.UNKNOWN);
    }
  }

  /**
   * A failure after the handshake: named by the alert when one was read; else, when TLS 1.3 was in
   * use, the same probe with TLS 1.2 only, where the broker refuses a certificate inside the handshake
   * (so the alert cannot be lost to timing). When that one gets through, the original failure stands.
   */
  private static Result afterHandshake(String url, Path caFile, Path certFile, Path keyFile, String clientId, List<String> filters,
      int timeoutMs, String[] protocols, IOException failure, boolean sentCertificate) {
    TlsRefusal r = TlsRefusal.fromAlert(failure, sentCertificate);
    if (r != null) return refused("the broker refused this certificate after the handshake", failure, sentCertificate);
    if (protocols == null) {
      Result again = run(url, caFile, certFile, keyFile, clientId, filters, timeoutMs, new String[] {"TLSv1.2"});
      if (again.stage() == Stage.TLS_REFUSED && again.refusal() != TlsRefusal.UNKNOWN && again.refusal() != TlsRefusal.NONE) {
        return new Result(Stage.TLS_REFUSED, again.detail() + " (asked again with TLS 1.2 after the TLS 1.3 connection broke: " + failure + ")",
            List.of(), again.refusal());
      }
    }
    return new Result(Stage.TLS_REFUSED, "the broker closed the connection after the TLS handshake (" + failure
        + ") and sent no alert that could be read: it probably refused this client certificate (expired, revoked or from another CA); "
        + "see the broker log", List.of(), TlsRefusal.UNKNOWN);
  }

  private static Result refused(String what, Exception e, boolean sentCertificate) {
    TlsRefusal r = TlsRefusal.fromAlert(e, sentCertificate);
    if (r == null) r = sentCertificate ? TlsRefusal.UNKNOWN : TlsRefusal.NO_CERTIFICATE;
    String why = switch (r) {
      case REVOKED -> " (the certificate is revoked: it is on the broker's CRL)";
      case EXPIRED -> " (the certificate has expired, or a clock is wrong)";
      case UNKNOWN_CA -> " (the certificate is not from a CA the broker trusts)";
      case NO_CERTIFICATE -> " (the broker requires a client certificate)";
      default -> "";
    };
    return new Result(Stage.TLS_REFUSED, what + ": " + e.getMessage() + why, List.of(), r);
  }

  /**
   * TLS over a blocking socket through an {@link SSLEngine}, so that a failed write does not hide the
   * broker's alert: {@link SSLSocket} gives up at the first "Broken pipe" (the broker closed right
   * after sending its alert), while the alert already sits in our receive buffer. Here a failed write
   * is remembered, later writes are dropped, and reads go on until the alert (an {@link SSLException}
   * naming it) or the end of the stream, which then reports the write failure.
   */
  static final class EngineChannel implements AutoCloseable {
    final SSLEngine engine;
    private final Socket socket;
    private final InputStream rawIn;
    private final OutputStream rawOut;
    private ByteBuffer netIn;
    private ByteBuffer appIn;
    private ByteBuffer netOut;
    private IOException writeFailure;

    EngineChannel(Socket socket, SSLEngine engine) throws IOException {
      this.socket = socket;
      this.engine = engine;
      this.rawIn = socket.getInputStream();
      this.rawOut = socket.getOutputStream();
      netIn = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
      appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
      netOut = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    }

    void handshake() throws IOException {
      engine.beginHandshake();
      while (true) {
        switch (engine.getHandshakeStatus()) {
          case NEED_WRAP -> wrap(ByteBuffer.allocate(0));
          case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> unwrap();
          case NEED_TASK -> runTasks();
          default -> {
            return;
          }
        }
      }
    }

    private void runTasks() {
      Runnable r;
      while ((r = engine.getDelegatedTask()) != null) r.run();
    }

    private void wrap(ByteBuffer src) throws IOException {
      do {
        netOut.clear();
        SSLEngineResult res = engine.wrap(src, netOut);
        if (res.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
          netOut = ByteBuffer.allocate(netOut.capacity() * 2);
          continue;
        }
        netOut.flip();
        send(netOut);
        if (res.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) runTasks();
        if (res.getStatus() == SSLEngineResult.Status.CLOSED) return;
      } while (src.hasRemaining());
    }

    private void send(ByteBuffer b) {
      if (writeFailure != null || !b.hasRemaining()) return;
      try {
        rawOut.write(b.array(), b.position(), b.remaining());
        rawOut.flush();
      } catch (IOException e) {
        writeFailure = e; // keep reading: the broker's alert may be waiting in the receive buffer
      }
    }

    /** One unwrap step; reads from the socket when the engine needs more bytes. */
    private void unwrap() throws IOException {
      while (true) {
        netIn.flip();
        SSLEngineResult res;
        try {
          res = engine.unwrap(netIn, appIn);
        } finally {
          netIn.compact();
        }
        switch (res.getStatus()) {
          case BUFFER_UNDERFLOW -> {
            if (netIn.remaining() == 0) netIn = grow(netIn, engine.getSession().getPacketBufferSize());
            readMore();
          }
          case BUFFER_OVERFLOW -> appIn = grow(appIn, engine.getSession().getApplicationBufferSize());
          case CLOSED -> throw new EOFException("the broker closed the TLS session" + failureNote());
          default -> {
            if (res.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) runTasks();
            return;
          }
        }
      }
    }

    private void readMore() throws IOException {
      int n;
      try {
        n = rawIn.read(netIn.array(), netIn.arrayOffset() + netIn.position(), netIn.remaining());
      } catch (SocketTimeoutException e) {
        throw e;
      } catch (IOException e) {
        if (writeFailure != null) e.addSuppressed(writeFailure);
        throw e;
      }
      if (n < 0) throw new EOFException("the broker closed the connection" + failureNote());
      netIn.position(netIn.position() + n);
    }

    /** The first failed write, or null (later writes were dropped). */
    IOException writeFailure() {
      return writeFailure;
    }

    private String failureNote() {
      return writeFailure == null ? "" : " (after our write failed: " + writeFailure + ")";
    }

    private static ByteBuffer grow(ByteBuffer b, int atLeast) {
      ByteBuffer n = ByteBuffer.allocate(Math.max(b.capacity() * 2, atLeast));
      b.flip();
      n.put(b);
      return n;
    }

    InputStream input() {
      return new InputStream() {
        @Override
        public int read() throws IOException {
          while (appIn.position() == 0) {
            unwrap();
            if (engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) wrap(ByteBuffer.allocate(0));
          }
          appIn.flip();
          int b = appIn.get() & 0xff;
          appIn.compact();
          return b;
        }
      };
    }

    OutputStream output() {
      return new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          wrap(ByteBuffer.wrap(b, off, len));
        }
      };
    }

    @Override
    public void close() {
      try {
        engine.closeOutbound();
        if (writeFailure == null) wrap(ByteBuffer.allocate(0));
      } catch (IOException e) {
        // closing anyway
      }
      closeQuietly(socket);
    }
  }

  private static byte[] connect(String clientId) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    str(body, "MQTT");
    body.write(5);
    body.write(0x02);
    body.write(0);
    body.write(10);
    body.write(0);
    str(body, clientId);
    return frame(0x10, body.toByteArray());
  }

  private static byte[] subscribe(List<String> filters) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(0);
    body.write(1);
    body.write(0);
    for (String f : filters) {
      str(body, f);
      body.write(1);
    }
    return frame(0x82, body.toByteArray());
  }

  private static byte[] frame(int type, byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(type);
    int n = body.length;
    do {
      int b = n % 128;
      n /= 128;
      out.write(n > 0 ? b | 0x80 : b);
    } while (n > 0);
    out.writeBytes(body);
    return out.toByteArray();
  }

  private static void str(ByteArrayOutputStream out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.write(b.length >> 8);
    out.write(b.length & 0xff);
    out.writeBytes(b);
  }

  /** Reads one packet: [type byte, body bytes...] as unsigned ints. */
  private static int[] packet(DataInputStream in) throws IOException {
    int type = in.readUnsignedByte();
    int len = 0;
    int mult = 1;
    for (int i = 0; i < 4; i++) {
      int b = in.readUnsignedByte();
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) == 0) break;
    }
    if (len > 1 << 16) throw new IOException("packet of " + len + " bytes from the broker during the probe");
    byte[] body = new byte[len];
    in.readFully(body);
    int[] out = new int[len + 1];
    out[0] = type & 0xf0;
    for (int i = 0; i < len; i++) out[i + 1] = body[i] & 0xff;
    return out;
  }

  private static int varint(int[] p, int at) {
    int v = 0;
    int mult = 1;
    for (int i = at; i < p.length && i < at + 4; i++) {
      v += (p[i] & 0x7f) * mult;
      mult *= 128;
      if ((p[i] & 0x80) == 0) break;
    }
    return v;
  }

  private static int varintSize(int v) {
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}

package dev.splitrt.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback TCP forwarder in front of a broker whose open connections a test can cut at once (as
 * a dropped Wi-Fi link does), while it keeps accepting new ones. The broker sees a connection that
 * closed without DISCONNECT, so it publishes the client's will; the client sees its socket fail.
 */
public final class TcpCutter implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> open = new ArrayList<>();
  private final Thread acceptor;

  public TcpCutter(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "tcp-cutter-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public int port() {
    return server.getLocalPort();
  }

  public String url() {
    return "tcp://127.0.0.1:" + port();
  }

  /** Closes every forwarded connection (both sides); new connections are still accepted. */
  public synchronized int cut() {
    int n = 0;
    for (Socket s : open) {
      try {
        s.close();
        n++;
      } catch (IOException e) {
        // already closed
      }
    }
    open.clear();
    return n / 2;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket broker = new Socket();
        broker.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
        synchronized (this) {
          open.add(client);
          open.add(broker);
        }
        pump(client, broker);
        pump(broker, client);
      } catch (IOException e) {
        // server closed, or the broker refused: the client sees its connection fail
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16384];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // cut or closed
      } finally {
        try {
          to.close();
          from.close();
        } catch (IOException e) {
          // nothing left to do
        }
      }
    }, "tcp-cutter-pump");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public void close() throws IOException {
    server.close();
    cut();
  }
}

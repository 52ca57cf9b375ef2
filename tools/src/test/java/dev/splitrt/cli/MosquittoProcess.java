package dev.splitrt.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Debian's Mosquitto as a real process for the command-line ITs, which kill -9 and restart it themselves. */
final class MosquittoProcess {
  static final Path MOSQUITTO = Path.of("/usr/sbin/mosquitto");

  private MosquittoProcess() {}

  /** Starts {@code mosquitto -c conf} (log appended to {@code dir/mosquitto.log}) and waits until it listens on {@code port}. */
  static Process start(Path conf, int port, Path dir) throws Exception {
    Process p = new ProcessBuilder(MOSQUITTO.toString(), "-c", conf.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("mosquitto.log").toFile())).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return p;
      } catch (IOException notYet) {
        Thread.sleep(50);
      }
    }
    throw new IOException("mosquitto did not listen on " + port + ": " + Files.readString(dir.resolve("mosquitto.log")));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}

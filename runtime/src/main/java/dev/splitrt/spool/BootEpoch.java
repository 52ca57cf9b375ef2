package dev.splitrt.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The boot epoch: a u32 counter in {@code <dir>/epoch}, incremented and forced to the device at
 * every start before the first feature is made, so {@code (device, epoch, sequence)} never repeats
 * although sequences restart at 0. File: 4 bytes epoch + 4 bytes CRC-32C of them, little-endian;
 * written to {@code epoch.tmp}, forced, renamed over {@code epoch}, and the folder forced, so a power
 * cut leaves either the old or the new value. A damaged file is refused (a silent reset to 1 could
 * repeat identities the tail already answered).
 */
public final class BootEpoch {
  static final String FILE = "epoch";

  private BootEpoch() {}

  /** Reads the last epoch (0 when there is no file), writes last + 1 durably and returns it. */
  public static long next(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path file = dir.resolve(FILE);
    long last = 0;
    if (Files.exists(file)) {
      byte[] b = Files.readAllBytes(file);
      ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
      if (b.length != 8 || crc(b, 4) != bb.getInt(4)) {
        throw new IOException("boot epoch file " + file + " is damaged (" + b.length + " bytes, CRC "
            + (b.length == 8 ? "mismatch" : "missing") + "); the edge will not guess an epoch that may repeat frame "
            + "identities. Remove the file only together with the spool's segments (rm " + dir + "/*), or restore it");
      }
      last = bb.getInt(0) & 0xFFFF_FFFFL;
    }
    if (last == 0xFFFF_FFFFL) throw new IOException("boot epoch in " + file + " is at its maximum 4294967295");
    long next = last + 1;
    ByteBuffer out = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(0, (int) next);
    out.putInt(4, crc(out.array(), 4));
    Path tmp = dir.resolve(FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(out);
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
    forceDir(dir);
    return next;
  }

  static int crc(byte[] b, int len) {
    CRC32C c = new CRC32C();
    c.update(b, 0, len);
    return (int) c.getValue();
  }

  /** Forces a folder's entries (a rename or a new file) to the device; a no-op where the OS cannot open folders. */
  static void forceDir(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Linux can; some file systems refuse: the data itself is forced, only the folder entry may lag.
    }
  }
}

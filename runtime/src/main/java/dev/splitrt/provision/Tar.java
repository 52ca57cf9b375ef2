package dev.splitrt.provision;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * A ustar tar.gz writer and a strict reader, in plain Java (no archive library on the device's
 * classpath). The reader takes only regular files and folders with safe relative names and bounded
 * sizes, so a forged bundle cannot write outside its staging folder or fill the disk.
 */
final class Tar {
  static final long MAX_ENTRY = 2L << 30;
  static final long MAX_TOTAL = 8L << 30;
  static final int MAX_ENTRIES = 10_000;
  private static final int BLOCK = 512;

  /** One file in the archive: its relative name, POSIX mode (e.g. 0644, 0600) and content. */
  record Entry(String name, int mode, byte[] data) {}

  private Tar() {}

  static void write(Path file, List<Entry> entries, long mtimeSeconds) throws IOException {
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file), 1 << 16)) {
      Set<String> dirs = new HashSet<>();
      for (Entry e : entries) {
        checkName(e.name());
        String[] parts = e.name().split("/");
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < parts.length - 1; i++) {
          d.append(parts[i]).append('/');
          if (dirs.add(d.toString())) out.write(header(d.toString(), 0755, 0, '5', mtimeSeconds));
        }
        out.write(header(e.name(), e.mode(), e.data().length, '0', mtimeSeconds));
        out.write(e.data());
        int pad = (BLOCK - e.data().length % BLOCK) % BLOCK;
        out.write(new byte[pad]);
      }
      out.write(new byte[BLOCK * 2]);
    }
  }

  /** A file taken out of an archive by {@link #extract}. */
  record Extracted(String name, int mode, long size, Path path) {}

  /**
   * Streams every regular file into {@code into} (mode 0600 while there; folders are implied by
   * names); refuses links, devices, unsafe names and oversize entries before writing them.
   */
  static List<Extracted> extract(Path file, Path into) throws ProvisionException {
    List<Extracted> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    long total = 0;
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file), 1 << 16)) {
      byte[] h = new byte[BLOCK];
      while (true) {
        if (!readFully(in, h)) throw new ProvisionException(file + ": the archive ends without its end marker (truncated download?)");
        if (isZero(h)) break;
        checkHeaderSum(file, h);
        String name = string(h, 0, 100);
        String prefix = string(h, 345, 155);
        if (!prefix.isEmpty()) name = prefix + "/" + name;
        char type = (char) h[156];
        long size = octal(h, 124, 12);
        int mode = (int) octal(h, 100, 8) & 07777;
        if (type == '5') {
          if (size != 0) throw new ProvisionException(file + ": folder entry '" + name + "' has a size; the archive is damaged");
          continue;
        }
        if (type != '0' && type != '\0') {
          throw new ProvisionException(file + ": entry '" + name + "' is of tar type '" + type
              + "' (link, device or extension); a SplitRT bundle holds only regular files: refused");
        }
        try {
          checkName(name);
        } catch (IllegalArgumentException e) {
          throw new ProvisionException(file + ": " + e.getMessage() + ": refused");
        }
        if (!seen.add(name)) throw new ProvisionException(file + ": entry '" + name + "' appears twice: refused");
        if (size < 0 || size > MAX_ENTRY || (total += size) > MAX_TOTAL || out.size() >= MAX_ENTRIES) {
          throw new ProvisionException(file + ": entry '" + name + "' (" + size + " bytes) exceeds the bundle limits (2 GiB a file, "
              + "8 GiB, 10000 files): refused");
        }
        Path target = into.resolve(name);
        Files.createDirectories(target.getParent());
        try (OutputStream o = Files.newOutputStream(Files.createFile(target, PosixFilePermissions.asFileAttribute(Pki.OWNER_ONLY)))) {
          byte[] buf = new byte[1 << 16];
          long left = size;
          while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) throw new ProvisionException(file + ": entry '" + name + "' is cut short (truncated download?)");
            o.write(buf, 0, n);
            left -= n;
          }
        }
        int pad = (int) ((BLOCK - size % BLOCK) % BLOCK);
        if (pad > 0 && !readFully(in, new byte[pad])) throw new ProvisionException(file + ": the archive is cut short after '" + name + "'");
        out.add(new Extracted(name, mode, size, target));
      }
    } catch (EOFException e) {
      throw new ProvisionException(file + ": not a complete gzip archive (" + e.getMessage() + "); download the bundle again", e);
    } catch (IOException e) {
      throw new ProvisionException(file + ": not a readable tar.gz bundle (" + e.getMessage() + "); download the bundle again", e);
    }
    return out;
  }

  static void checkName(String name) {
    if (name.isEmpty() || name.length() > 255 || name.startsWith("/") || name.contains("\\") || name.contains("//")
        || name.endsWith("/") || !name.matches("[A-Za-z0-9_.@+/-]+")) {
      throw new IllegalArgumentException("entry name '" + name + "' is not a safe relative path");
    }
    for (String part : name.split("/")) {
      if (part.equals("..") || part.equals(".")) throw new IllegalArgumentException("entry name '" + name + "' climbs out of the bundle");
    }
  }

  private static byte[] header(String name, int mode, long size, char type, long mtime) {
    byte[] h = new byte[BLOCK];
    String prefix = "";
    String rest = name;
    if (name.getBytes(StandardCharsets.US_ASCII).length > 100) {
      int cut = name.lastIndexOf('/', 155);
      if (cut <= 0 || name.length() - cut - 1 > 100) throw new IllegalArgumentException("entry name too long for ustar: " + name);
      prefix = name.substring(0, cut);
      rest = name.substring(cut + 1);
    }
    put(h, 0, 100, rest);
    putOctal(h, 100, 8, mode);
    putOctal(h, 108, 8, 0);
    putOctal(h, 116, 8, 0);
    putOctal(h, 124, 12, size);
    putOctal(h, 136, 12, mtime);
    for (int i = 148; i < 156; i++) h[i] = ' ';
    h[156] = (byte) type;
    put(h, 257, 6, "ustar");
    h[262] = 0;
    h[263] = '0';
    h[264] = '0';
    put(h, 265, 32, "root");
    put(h, 297, 32, "root");
    put(h, 345, 155, prefix);
    long sum = 0;
    for (byte b : h) sum += b & 0xff;
    String s = String.format("%06o", sum);
    put(h, 148, 7, s);
    h[154] = 0;
    h[155] = ' ';
    return h;
  }

  private static void checkHeaderSum(Path file, byte[] h) throws ProvisionException {
    long stored = octal(h, 148, 8);
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xff);
    if (stored != sum) throw new ProvisionException(file + ": a tar header checksum is wrong (damaged or not a tar archive)");
  }

  private static void put(byte[] h, int off, int len, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, off, Math.min(len, b.length));
  }

  private static void putOctal(byte[] h, int off, int len, long v) {
    String s = Long.toOctalString(v);
    if (s.length() > len - 1) throw new IllegalArgumentException("value " + v + " too large for a ustar field");
    put(h, off, len - 1, "0".repeat(len - 1 - s.length()) + s);
  }

  private static String string(byte[] h, int off, int len) {
    int end = off;
    while (end < off + len && h[end] != 0) end++;
    return new String(h, off, end - off, StandardCharsets.US_ASCII);
  }

  private static long octal(byte[] h, int off, int len) {
    String s = string(h, off, len).trim();
    if (s.isEmpty()) return 0;
    try {
      return Long.parseLong(s, 8);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static boolean isZero(byte[] b) {
    for (byte x : b) if (x != 0) return false;
    return true;
  }

  private static boolean readFully(InputStream in, byte[] b) throws IOException {
    int off = 0;
    while (off < b.length) {
      int n = in.read(b, off, b.length - off);
      if (n < 0) return false;
      off += n;
    }
    return true;
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}

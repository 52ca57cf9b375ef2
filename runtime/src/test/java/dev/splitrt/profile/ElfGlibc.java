package dev.splitrt.profile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Reads the glibc symbol versions an ELF shared library needs (its {@code .gnu.version_r} section,
 * what {@code objdump -T} shows as GLIBC_2.xx), so a test can check natives against a device's glibc
 * without objdump. 64-bit little-endian ELF only: that is every linux-arm64 / linux-x86_64 library.
 */
final class ElfGlibc {
  private static final int SHT_GNU_VERNEED = 0x6ffffffe;

  private ElfGlibc() {}

  /** The newest GLIBC_x.y[.z] version {@code elf} needs, or null when it needs none. */
  static String newestGlibc(byte[] elf, String what) {
    String newest = null;
    for (String v : glibcVersions(elf, what)) if (newest == null || DeviceProfiles.compareVersions(v, newest) > 0) newest = v;
    return newest;
  }

  /** Every GLIBC_ version named in {@code .gnu.version_r}, without the prefix ("2.17", "2.28"). */
  static java.util.Set<String> glibcVersions(byte[] elf, String what) {
    ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
    if (elf.length < 64 || b.getInt(0) != 0x464c457f) throw new IllegalArgumentException(what + ": not an ELF file");
    if (elf[4] != 2 || elf[5] != 1) throw new IllegalArgumentException(what + ": not a 64-bit little-endian ELF");
    long shoff = b.getLong(0x28);
    int shentsize = Short.toUnsignedInt(b.getShort(0x3a));
    int shnum = Short.toUnsignedInt(b.getShort(0x3c));
    java.util.Set<String> out = new java.util.TreeSet<>();
    for (int i = 0; i < shnum; i++) {
      int sh = Math.toIntExact(shoff + (long) i * shentsize);
      if (b.getInt(sh + 4) != SHT_GNU_VERNEED) continue;
      int off = Math.toIntExact(b.getLong(sh + 0x18));
      int link = b.getInt(sh + 0x28);
      int count = b.getInt(sh + 0x2c);                    // sh_info: number of Verneed entries
      int strsh = Math.toIntExact(shoff + (long) link * shentsize);
      int strtab = Math.toIntExact(b.getLong(strsh + 0x18));
      int vn = off;
      for (int n = 0; n < count; n++) {
        int cnt = Short.toUnsignedInt(b.getShort(vn + 2));
        int aux = vn + b.getInt(vn + 8);
        for (int k = 0; k < cnt; k++) {
          String name = cString(elf, strtab + b.getInt(aux + 8));
          if (name.startsWith("GLIBC_") && name.length() > 6 && Character.isDigit(name.charAt(6))) out.add(name.substring(6));
          aux += b.getInt(aux + 12);
        }
        int next = b.getInt(vn + 12);
        if (next == 0) break;
        vn += next;
      }
    }
    return out;
  }

  private static String cString(byte[] a, int at) {
    int end = at;
    while (a[end] != 0) end++;
    return new String(a, at, end - at, java.nio.charset.StandardCharsets.US_ASCII);
  }

  /**
   * The newest glibc each shared library in {@code jar} under a folder named {@code platformDir}
   * needs: entry name → version ("2.35"), libraries needing no versioned glibc symbol left out.
   */
  static Map<String, String> newestPerLibrary(Path jar, String platformDir) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (JarFile j = new JarFile(jar.toFile())) {
      for (JarEntry e : java.util.Collections.list(j.entries())) {
        String n = e.getName();
        if (e.isDirectory() || !n.contains("/" + platformDir + "/")) continue;
        String file = n.substring(n.lastIndexOf('/') + 1);
        if (!file.endsWith(".so") && !file.contains(".so.")) continue;
        byte[] data;
        try (InputStream in = j.getInputStream(e)) {
          data = in.readAllBytes();
        }
        if (data.length < 4 || data[0] != 0x7f) continue;               // a linker script or text file, not ELF
        String v = newestGlibc(data, jar.getFileName() + "!" + n);
        if (v != null) out.put(n, v);
      }
    }
    return out;
  }
}

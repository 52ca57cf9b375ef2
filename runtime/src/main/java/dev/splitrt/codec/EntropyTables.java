package dev.splitrt.codec;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The integer tables of a learned entropy bottleneck ({@code entropy.json} in a model folder,
 * written by {@code models/recipes/entropy_model.py}; format in {@code runtime/docs/feature-frame-v4.md} §4):
 * per channel an offset (the learned median, float32), the first symbol of its range and a
 * cumulative frequency table of {@link #PRECISION} bits. Both ends code from these integers only, so
 * encoder and decoder agree bit for bit on any machine. Validated completely on load: a decoder
 * built on them can trust every entry. Immutable.
 */
public final class EntropyTables {
  /** Bits of the cumulative frequencies: every table sums to {@code 1 << PRECISION}. */
  public static final int PRECISION = 16;
  public static final int TOTAL = 1 << PRECISION;
  /** Symbols per channel at most (keeps the per-symbol search at 10 steps and every frequency >= 1 affordable). */
  public static final int MAX_SYMBOLS = 1024;
  /** Channels at most. */
  public static final int MAX_CHANNELS = 4096;
  /** |first symbol| at most, so symbol + offset stays exact in float32. */
  public static final int MAX_ABS_SYMBOL = 1 << 20;
  static final String FORMAT = "splitrt-factorized-cdf";
  private static final ObjectMapper JSON = new ObjectMapper();

  @JsonIgnoreProperties(ignoreUnknown = false)
  record Channel(double offset, int min_symbol, int[] cdf) {}

  @JsonIgnoreProperties(ignoreUnknown = false)
  record File(String format, int version, int precision, List<Channel> channels) {}

  private final float[] offsets;
  private final int[] minSymbol;
  private final int[][] cdf;
  private final int tableId;
  private final String sha256;

  private EntropyTables(float[] offsets, int[] minSymbol, int[][] cdf, int tableId, String sha256) {
    this.offsets = offsets;
    this.minSymbol = minSymbol;
    this.cdf = cdf;
    this.tableId = tableId;
    this.sha256 = sha256;
  }

  /** Reads and validates {@code entropy.json}; IOException naming the file, the entry and the fix. */
  public static EntropyTables read(Path file) throws IOException {
    return parse(Files.readAllBytes(file), file.toString());
  }

  /** As {@link #read} from the file's bytes; {@code where} names it in errors. */
  public static EntropyTables parse(byte[] bytes, String where) throws IOException {
    File f;
    try {
      f = JSON.readValue(bytes, File.class);
    } catch (IOException e) {
      throw new IOException(where + ": not a valid entropy table file (" + e.getMessage().lines().findFirst().orElse("")
          + "); fix: re-export it with the model's recipe", e);
    }
    String fix = "; fix: re-export the tables with models/recipes/entropy_model.py";
    if (!FORMAT.equals(f.format()) || f.version() != 1) {
      throw new IOException(where + ": format '" + f.format() + "' version " + f.version() + "; this runtime reads '"
          + FORMAT + "' version 1" + fix);
    }
    if (f.precision() != PRECISION) {
      throw new IOException(where + ": precision " + f.precision() + "; this runtime reads " + PRECISION + "-bit tables" + fix);
    }
    if (f.channels() == null || f.channels().isEmpty() || f.channels().size() > MAX_CHANNELS) {
      throw new IOException(where + ": " + (f.channels() == null ? 0 : f.channels().size()) + " channels; allowed 1.."
          + MAX_CHANNELS + fix);
    }
    int c = f.channels().size();
    float[] offsets = new float[c];
    int[] min = new int[c];
    int[][] cdf = new int[c][];
    for (int k = 0; k < c; k++) {
      Channel ch = f.channels().get(k);
      String at = where + ": channel " + k + " ";
      if (ch == null || ch.cdf() == null) throw new IOException(at + "has no cdf" + fix);
      float off = (float) ch.offset();
      if (!Float.isFinite(off) || Math.abs(off) > MAX_ABS_SYMBOL) {
        throw new IOException(at + "offset " + ch.offset() + " is not finite or beyond +-" + MAX_ABS_SYMBOL + fix);
      }
      if (Math.abs(ch.min_symbol()) > MAX_ABS_SYMBOL) {
        throw new IOException(at + "min_symbol " + ch.min_symbol() + " is beyond +-" + MAX_ABS_SYMBOL + fix);
      }
      int[] t = ch.cdf();
      if (t.length < 2 || t.length > MAX_SYMBOLS + 1) {
        throw new IOException(at + "cdf has " + t.length + " entries; allowed 2.." + (MAX_SYMBOLS + 1)
            + " (1.." + MAX_SYMBOLS + " symbols)" + fix);
      }
      if (t[0] != 0 || t[t.length - 1] != TOTAL) {
        throw new IOException(at + "cdf runs from " + t[0] + " to " + t[t.length - 1] + "; it must run from 0 to " + TOTAL + fix);
      }
      for (int j = 1; j < t.length; j++) {
        if (t[j] <= t[j - 1]) {
          throw new IOException(at + "cdf[" + j + "] = " + t[j] + " <= cdf[" + (j - 1) + "] = " + t[j - 1]
              + "; every symbol needs a frequency >= 1" + fix);
        }
      }
      offsets[k] = off;
      min[k] = ch.min_symbol();
      cdf[k] = t.clone();
    }
    byte[] digest;
    try {
      digest = MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JRE", e);
    }
    int id = (digest[0] & 0xFF) | (digest[1] & 0xFF) << 8 | (digest[2] & 0xFF) << 16 | (digest[3] & 0xFF) << 24;
    return new EntropyTables(offsets, min, cdf, id, HexFormat.of().formatHex(digest));
  }

  public int channels() {
    return offsets.length;
  }

  /** First 4 bytes of the file's SHA-256 as a little-endian u32 (carried by every v4 frame). */
  public int tableId() {
    return tableId;
  }

  /** SHA-256 of the file's bytes, hex (the manifest's {@code bottleneck.entropy_model.sha256}). */
  public String sha256() {
    return sha256;
  }

  public float offset(int channel) {
    return offsets[channel];
  }

  public int minSymbol(int channel) {
    return minSymbol[channel];
  }

  /** Symbols of the channel: {@code minSymbol .. minSymbol + symbols - 1}. */
  public int symbols(int channel) {
    return cdf[channel].length - 1;
  }

  /** The channel's cumulative frequencies (not copied: do not modify). */
  int[] cdf(int channel) {
    return cdf[channel];
  }
}

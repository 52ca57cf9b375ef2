package dev.splitrt.codec;

import dev.splitrt.codec.FeatureFrameException.Reason;

/**
 * Table-driven rANS (range asymmetric numeral systems, Duda 2013) with a 32-bit state and byte-wise
 * renormalisation, over {@link EntropyTables}: {@code runtime/docs/feature-frame-v4.md} §5 is the
 * specification and {@code models/recipes/entropy_model.py} the reference implementation it
 * matches byte for byte. Symbols are table indices ({@code 0 .. symbols(c) - 1}); element {@code i}
 * uses the table of channel {@code (i / inner) mod channels}.
 *
 * <p>The state lives in {@code [L, 256 L)} with {@code L = 2^23}. The encoder codes the elements
 * last to first, so the decoder reads them first to last: payload = the final state (u32 LE) then the
 * renormalisation bytes. Every frequency is >= 1 out of {@code 2^16}, so a symbol costs at most 16
 * bits and the decoder reads at most 2 bytes per symbol: a payload is at most {@code 4 + 2n} bytes, and
 * decoding does bounded work per element (a 10-step search and 2 byte reads).
 */
public final class RansCoder {
  static final int L = 1 << 23;
  static final int STATE_BYTES = 4;

  private RansCoder() {}

  /** The largest payload {@code n} symbols can need: the state plus 2 bytes per symbol. */
  public static long maxPayloadBytes(long n) {
    return STATE_BYTES + 2 * n;
  }

  /**
   * Codes {@code sym[0..n)} into {@code out} (at least {@link #maxPayloadBytes} long) and returns the
   * payload length; the payload is {@code out[0..length)}.
   */
  public static int encode(int[] sym, int n, int inner, EntropyTables t, byte[] out) {
    int channels = t.channels();
    int w = out.length;                       // written backwards from the end, moved to the front at the end
    long x = L;
    for (int i = n - 1; i >= 0; i--) {
      int c = (i / inner) % channels;
      int[] cdf = t.cdf(c);
      int j = sym[i];
      int start = cdf[j];
      int freq = cdf[j + 1] - start;
      long xMax = ((long) (L >>> EntropyTables.PRECISION) << 8) * freq;
      while (x >= xMax) {
        out[--w] = (byte) x;
        x >>>= 8;
      }
      x = ((x / freq) << EntropyTables.PRECISION) + (x % freq) + start;
    }
    int body = out.length - w;
    System.arraycopy(out, w, out, STATE_BYTES, body);
    Wire.putU32(out, 0, (int) x);
    return STATE_BYTES + body;
  }

  /**
   * Decodes {@code n} symbols from {@code m[off, off + len)} into {@code sym}. Strict: the initial
   * state must lie in {@code [L, 256 L)}, the payload must not run out, and after the last symbol
   * the state must be back at {@code L} with every byte used; anything else is BAD_PAYLOAD (a
   * corrupted or forged payload cannot decode silently to other symbols and still pass).
   */
  public static void decode(byte[] m, int off, int len, int n, int inner, EntropyTables t, int[] sym)
      throws FeatureFrameException {
    if (len < STATE_BYTES) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, "rANS payload of " + len + " bytes; it starts with a 4-byte state");
    }
    int channels = t.channels();
    long x = Wire.u32(m, off);
    if (x < L || x >= (long) L << 8) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, String.format(
          "rANS initial state 0x%08x is outside [0x%08x, 0x%08x)", x, L, (long) L << 8));
    }
    int p = off + STATE_BYTES;
    int end = off + len;
    final int mask = EntropyTables.TOTAL - 1;
    for (int i = 0; i < n; i++) {
      int c = (i / inner) % channels;
      int[] cdf = t.cdf(c);
      int slot = (int) (x & mask);
      int lo = 0;
      int hi = cdf.length - 1;              // invariant: cdf[lo] <= slot < cdf[hi]
      while (hi - lo > 1) {
        int mid = (lo + hi) >>> 1;
        if (cdf[mid] <= slot) lo = mid; else hi = mid;
      }
      int start = cdf[lo];
      x = (long) (cdf[lo + 1] - start) * (x >>> EntropyTables.PRECISION) + slot - start;
      while (x < L) {
        if (p >= end) {
          throw new FeatureFrameException(Reason.BAD_PAYLOAD, "rANS payload of " + len + " bytes ends at symbol " + i
              + " of " + n);
        }
        x = (x << 8) | (m[p++] & 0xFF);
      }
      sym[i] = lo;
    }
    if (x != L || p != end) {
      throw new FeatureFrameException(Reason.BAD_PAYLOAD, String.format(
          "rANS payload does not end cleanly: final state 0x%08x (expected 0x%08x), %d of %d bytes used", x, L,
          p - off, len));
    }
  }
}

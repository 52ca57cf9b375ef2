package dev.splitrt.codec;

/** FeatureFrame v1/v2/v3 constants, little-endian field access and the id charset: one place for the layout. */
final class Wire {
  static final byte[] MAGIC = {'S', 'R', 'T', 'F'};
  /** The oldest version and the newest this code reads and writes; a frame carries the lowest that can express it. */
  static final int VERSION = 1;
  static final int VERSION_2 = 2;
  /** Version 3 = version 2 plus a u32 boot epoch after the sequence (feature-frame-v3.md). */
  static final int VERSION_3 = 3;
  /** Largest boot epoch: the field is a u32. */
  static final long MAX_EPOCH = 0xFFFF_FFFFL;
  /** Bytes version 3 adds to the header: the u32 epoch. */
  static final int EPOCH_BYTES = 4;
  static final int DTYPE_FLOAT32 = 1;
  static final int MAX_ID_BYTES = 128;
  static final int MAX_RANK = 8;
  static final int HASH_BYTES = 32;
  static final int CRC_BYTES = 4;
  /** Header bytes that do not depend on ids, rank or parameter count. */
  static final int FIXED_HEADER_BYTES = 74;
  /** Largest source width or height: the fields are u16. */
  static final int MAX_SOURCE_SIDE = 0xFFFF;
  /** zlib's documented bound: DEFLATE never expands data by more than 1032:1. */
  static final int MAX_DEFLATE_RATIO = 1032;

  private Wire() {}

  static int entropyId(Entropy e) {
    return e.ordinal();
  }

  static int granularityId(Granularity g) {
    return g.ordinal();
  }

  /** The version a frame of this codec carries: 1 unless it needs a v2 feature (zstd, three ranges). */
  static int versionFor(CodecSpec spec) {
    return spec.entropy() == Entropy.ZSTD || spec.granularity().ranges() == 3 ? VERSION_2 : VERSION;
  }

  /** The version a frame carries: 3 when it has a boot epoch, else the lowest its codec allows. */
  static int versionFor(CodecSpec spec, long epoch) {
    return epoch != 0 ? VERSION_3 : versionFor(spec);
  }

  /** Header size in bytes; see the layout table in feature-frame-v3.md (three-range adds u16 levels per pair). */
  static int headerBytes(int deviceIdBytes, int modelIdBytes, int rank, int paramCount, boolean threeRange) {
    return FIXED_HEADER_BYTES + deviceIdBytes + modelIdBytes + 4 * rank + 8 * paramCount
        + (threeRange ? 2 * paramCount : 0);
  }

  /** Header size of a frame of {@code version}: version 3 adds the 4-byte epoch. */
  static int headerBytes(int version, int deviceIdBytes, int modelIdBytes, int rank, int paramCount,
                         boolean threeRange) {
    return headerBytes(deviceIdBytes, modelIdBytes, rank, paramCount, threeRange)
        + (version >= VERSION_3 ? EPOCH_BYTES : 0);
  }

  /** Bytes that {@code elements} codes of {@code bits} bits pack into (LSB-first, last byte zero-padded). */
  static long packedBytes(long elements, int bits) {
    return (elements * bits + 7) / 8;
  }

  static boolean idByteAllowed(int b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
        || b == '.' || b == '_' || b == '-';
  }

  /** Null when {@code id} is a valid device/model id, otherwise what is wrong with it. */
  static String idProblem(String id) {
    if (id == null) return "is null";
    if (id.isEmpty() || id.length() > MAX_ID_BYTES) {
      return "is " + id.length() + " characters long; allowed 1.." + MAX_ID_BYTES;
    }
    for (int i = 0; i < id.length(); i++) {
      char ch = id.charAt(i);
      if (!idByteAllowed(ch)) {
        return "has '" + ch + "' (U+" + String.format("%04X", (int) ch) + ") at index " + i
            + "; allowed characters: A-Z a-z 0-9 . _ -";
      }
    }
    return null;
  }

  static void putU16(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
  }

  static void putU32(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
    b[off + 2] = (byte) (v >>> 16);
    b[off + 3] = (byte) (v >>> 24);
  }

  static void putU64(byte[] b, int off, long v) {
    putU32(b, off, (int) v);
    putU32(b, off + 4, (int) (v >>> 32));
  }

  static void putF32(byte[] b, int off, float v) {
    putU32(b, off, Float.floatToRawIntBits(v));
  }

  static int u8(byte[] b, int off) {
    return b[off] & 0xFF;
  }

  static int u16(byte[] b, int off) {
    return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
  }

  static int i32(byte[] b, int off) {
    return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8 | (b[off + 2] & 0xFF) << 16 | (b[off + 3] & 0xFF) << 24;
  }

  static long u32(byte[] b, int off) {
    return i32(b, off) & 0xFFFF_FFFFL;
  }

  static long u64(byte[] b, int off) {
    return u32(b, off) | (long) i32(b, off + 4) << 32;
  }

  static float f32(byte[] b, int off) {
    return Float.intBitsToFloat(i32(b, off));
  }
}

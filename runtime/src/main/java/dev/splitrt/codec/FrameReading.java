package dev.splitrt.codec;

import dev.splitrt.codec.FeatureFrameException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The checks every FeatureFrame version shares (magic, flags, ids, source size, dims, length, CRC), so that
 * {@link FeatureDecoder} (v1–v3) and {@link LearnedFeatureDecoder} (v4) refuse the same damage with the same words.
 * Each bound is checked as it is read; nothing is allocated before the CRC has passed except the dims.
 */
final class FrameReading {
  private FrameReading() {}

  /** Where the ids and the head hash lie in a frame whose prefix passed {@link #ids}. */
  record Ids(int deviceOffset, int deviceLength, int modelOffset, int modelLength, int hashOffset) {}

  static void magic(byte[] m) throws FeatureFrameException {
    if (m == null) throw new FeatureFrameException(Reason.TRUNCATED, "message is null");
    for (int k = 0; k < Math.min(4, m.length); k++) {
      if (m[k] != Wire.MAGIC[k]) {
        throw new FeatureFrameException(Reason.BAD_MAGIC, "first bytes are "
            + HexFormat.ofDelimiter(" ").formatHex(m, 0, Math.min(4, m.length)) + ", expected 53 52 54 46 ('SRTF')");
      }
    }
    need(m, 0, 6, "magic, version and flags");
  }

  /** Flags (none defined: 0), then the device and model id lengths; the ids' bytes are checked by {@link #id}. */
  static Ids ids(byte[] m, int version) throws FeatureFrameException {
    int flags = Wire.u8(m, 5);
    if (flags != 0) bad(5, "flags = 0x" + Integer.toHexString(flags) + "; v" + version + " defines no flags, must be 0");
    int p = 6;
    need(m, p, 1, "device id length");
    int devLen = Wire.u8(m, p);
    if (devLen < 1 || devLen > Wire.MAX_ID_BYTES) bad(p, "device id length " + devLen + "; allowed 1..128");
    int devOff = p + 1;
    p = devOff + devLen;
    need(m, p, 1, "model id length");
    int modelLen = Wire.u8(m, p);
    if (modelLen < 1 || modelLen > Wire.MAX_ID_BYTES) bad(p, "model id length " + modelLen + "; allowed 1..128");
    int modelOff = p + 1;
    return new Ids(devOff, devLen, modelOff, modelLen, modelOff + modelLen);
  }

  /** Source width and height at {@code p}: both 0 (unknown) or both >= 1. */
  static void sourceSize(byte[] m, int p) throws FeatureFrameException {
    int w = Wire.u16(m, p);
    int h = Wire.u16(m, p + 2);
    if ((w == 0) != (h == 0)) {
      bad(w == 0 ? p : p + 2, "source width " + w + " and source height " + h + "; both must be 0 (unknown) or both >= 1");
    }
  }

  /** {@code rank} dims at {@code p}, each >= 1, holding at most {@code maxElements} elements in all. */
  static long[] dims(byte[] m, int p, int rank, long maxElements) throws FeatureFrameException {
    need(m, p, 4L * rank, "dims");
    long[] dims = new long[rank];
    for (int k = 0; k < rank; k++) {
      dims[k] = Wire.u32(m, p + 4 * k);
      if (dims[k] == 0) bad(p + 4 * k, "dim[" + k + "] = 0; dims must be >= 1");
    }
    long n = 1;
    for (int k = 0; k < rank; k++) {
      long hi = Math.multiplyHigh(n, dims[k]);
      n *= dims[k];
      if (hi != 0 || n < 0) throw new FeatureFrameException(Reason.TOO_LARGE, "dims " + Arrays.toString(dims) + ": element count overflows 64 bits");
    }
    if (n > maxElements) {
      throw new FeatureFrameException(Reason.TOO_LARGE, "dims " + Arrays.toString(dims) + " hold " + n
          + " elements, more than this decoder's limit of " + maxElements);
    }
    return dims;
  }

  static long elements(long[] dims) {
    long n = 1;
    for (long d : dims) n *= d;
    return n;
  }

  /**
   * The message must end exactly after the payload and the CRC-32C over everything before it, which must match.
   *
   * @return the CRC's offset
   */
  static int lengthAndCrc(byte[] m, int payloadOff, long payloadLen) throws FeatureFrameException {
    long end = payloadOff + payloadLen + Wire.CRC_BYTES;
    if (m.length < end) {
      throw new FeatureFrameException(Reason.TRUNCATED, "message has " + m.length + " bytes but its header declares "
          + end + " (payload of " + payloadLen + " bytes at offset " + payloadOff + " plus 4-byte CRC)");
    }
    if (m.length > end) {
      bad((int) end, (m.length - end) + " trailing bytes after the CRC (header declares " + end + " bytes, message has "
          + m.length + ")");
    }
    int crcOff = (int) end - Wire.CRC_BYTES;
    CRC32C crc = new CRC32C();
    crc.update(m, 0, crcOff);
    int computed = (int) crc.getValue();
    int stored = Wire.i32(m, crcOff);
    if (computed != stored) {
      throw new FeatureFrameException(Reason.CRC_MISMATCH, String.format(
          "stored CRC-32C 0x%08x, computed 0x%08x over bytes [0, %d); the message was corrupted", stored, computed, crcOff));
    }
    return crcOff;
  }

  static String id(byte[] m, int off, int len, String what) throws FeatureFrameException {
    for (int k = 0; k < len; k++) {
      int b = Wire.u8(m, off + k);
      if (!Wire.idByteAllowed(b)) {
        bad(off + k, what + " has byte 0x" + Integer.toHexString(b) + " at index " + k + "; allowed characters: A-Z a-z 0-9 . _ -");
      }
    }
    return new String(m, off, len, StandardCharsets.US_ASCII);
  }

  static void need(byte[] m, int off, long count, String what) throws FeatureFrameException {
    if (off + count > m.length) {
      throw new FeatureFrameException(Reason.TRUNCATED, "message has " + m.length + " bytes; " + what + " need "
          + count + " bytes at offset " + off);
    }
  }

  static void bad(int off, String what) throws FeatureFrameException {
    throw new FeatureFrameException(Reason.BAD_HEADER, "at offset " + off + ": " + what);
  }
}

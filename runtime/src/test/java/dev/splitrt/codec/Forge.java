package dev.splitrt.codec;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Writes FeatureFrame messages field by field from the layout tables of feature-frame-v1.md and -v2.md,
 * independently of {@link FeatureEncoder}, so tests can forge any header. Defaults make a valid
 * 8-bit per-tensor frame of shape [1, 2, 2] with codes 0..3.
 */
final class Forge {
  byte[] magic = {'S', 'R', 'T', 'F'};
  int version = 1;
  int flags = 0;
  byte[] deviceId = "dev-1".getBytes(StandardCharsets.US_ASCII);
  byte[] modelId = "model-1".getBytes(StandardCharsets.US_ASCII);
  Integer deviceIdLength;
  byte[] headSha256 = new byte[32];
  long sequence = 42;
  long capture = 1_700_000_000_000_000L;
  int sourceWidth = 640;
  int sourceHeight = 480;
  int dtype = 1;
  int bits = 8;
  int granularity = 0;
  int symmetric = 0;
  int entropy = 0;
  long[] dims = {1, 2, 2};
  Integer rank;
  Long paramCount;
  float[] params = {0.5f, -1f};
  /** Three-range frames: u16 codes per range, written after the params (null: none). */
  int[] levels;
  Long payloadLength;
  byte[] payload = {0, 1, 2, 3};
  boolean fixCrc = true;
  int crcXor = 0;
  byte[] trailing = new byte[0];

  byte[] bytes() {
    ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    b.put(magic).put((byte) version).put((byte) flags);
    b.put((byte) (deviceIdLength == null ? deviceId.length : deviceIdLength)).put(deviceId);
    b.put((byte) modelId.length).put(modelId);
    b.put(headSha256).putLong(sequence).putLong(capture);
    b.putShort((short) sourceWidth).putShort((short) sourceHeight);
    b.put((byte) dtype).put((byte) bits).put((byte) granularity).put((byte) symmetric).put((byte) entropy);
    b.put((byte) (rank == null ? dims.length : rank));
    for (long d : dims) b.putInt((int) d);
    b.putInt((int) (paramCount == null ? params.length / 2 : paramCount));
    for (float f : params) b.putFloat(f);
    if (levels != null) for (int l : levels) b.putShort((short) l);
    b.putInt((int) (payloadLength == null ? payload.length : payloadLength));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(b.array(), 0, b.position());
    out.write(payload, 0, payload.length);
    byte[] body = out.toByteArray();
    CRC32C crc = new CRC32C();
    crc.update(body);
    int c = (fixCrc ? (int) crc.getValue() : 0) ^ crcXor;
    ByteBuffer t = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(c);
    out.write(t.array(), 0, 4);
    out.write(trailing, 0, trailing.length);
    return out.toByteArray();
  }
}

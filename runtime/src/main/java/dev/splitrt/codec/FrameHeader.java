package dev.splitrt.codec;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Who made a feature frame and when: the tail runner routes and checks by these fields, and must
 * refuse a frame whose {@code headSha256} differs from the head its tail was trained with.
 *
 * @param deviceId 1..128 characters of {@code [A-Za-z0-9._-]} (it also appears in MQTT topics)
 * @param modelId 1..128 characters of {@code [A-Za-z0-9._-]}
 * @param headSha256 SHA-256 of the head ONNX file, 32 bytes (copied)
 * @param sequence frame number, an unsigned 64-bit value on the wire
 * @param captureEpochMicros capture time, microseconds since 1970-01-01T00:00Z
 * @param sourceWidth width in pixels of the camera frame the head input was made from, 0..65535;
 *     the tail needs it to map boxes back through the letterbox. 0 = unknown
 * @param sourceHeight height in pixels of that camera frame, 0..65535; 0 = unknown. Width and
 *     height are both 0 or both non-zero
 * @param epoch the device's boot epoch, 0..2^32-1: a counter the edge persists and increments at every
 *     start, so {@code (deviceId, epoch, sequence)} names one frame across edge restarts (sequences
 *     restart at 0 in a new process). 0 = none (frames of versions 1 and 2, which have no epoch field);
 *     a frame with epoch &ge; 1 is written as version 3 ({@code feature-frame-v3.md})
 */
public record FrameHeader(String deviceId, String modelId, byte[] headSha256, long sequence, long captureEpochMicros,
                          int sourceWidth, int sourceHeight, long epoch) {

  /** A header without a boot epoch (0): written as version 1 or 2. */
  public FrameHeader(String deviceId, String modelId, byte[] headSha256, long sequence, long captureEpochMicros,
                     int sourceWidth, int sourceHeight) {
    this(deviceId, modelId, headSha256, sequence, captureEpochMicros, sourceWidth, sourceHeight, 0);
  }

  public FrameHeader {
    if (epoch < 0 || epoch > Wire.MAX_EPOCH) {
      throw new IllegalArgumentException("FrameHeader epoch " + epoch
          + " is outside 0..4294967295 (a u32 on the wire); 0 = no boot epoch");
    }
    String p = Wire.idProblem(deviceId);
    if (p != null) throw new IllegalArgumentException("FrameHeader deviceId '" + deviceId + "' " + p);
    p = Wire.idProblem(modelId);
    if (p != null) throw new IllegalArgumentException("FrameHeader modelId '" + modelId + "' " + p);
    Objects.requireNonNull(headSha256, "FrameHeader headSha256 is null; pass the 32-byte SHA-256 of head.onnx");
    if (headSha256.length != Wire.HASH_BYTES) {
      throw new IllegalArgumentException("FrameHeader headSha256 has " + headSha256.length
          + " bytes; a SHA-256 has 32 (manifest head.sha256 is 64 hex characters)");
    }
    if (sourceWidth < 0 || sourceWidth > Wire.MAX_SOURCE_SIDE) {
      throw new IllegalArgumentException("FrameHeader sourceWidth " + sourceWidth
          + " is outside 0..65535; pass the camera frame's width in pixels, or 0 with sourceHeight 0 if unknown");
    }
    if (sourceHeight < 0 || sourceHeight > Wire.MAX_SOURCE_SIDE) {
      throw new IllegalArgumentException("FrameHeader sourceHeight " + sourceHeight
          + " is outside 0..65535; pass the camera frame's height in pixels, or 0 with sourceWidth 0 if unknown");
    }
    if ((sourceWidth == 0) != (sourceHeight == 0)) {
      String msg = sourceWidth == 0 ? "sourceWidth is 0 but sourceHeight is " + sourceHeight
          : "sourceHeight is 0 but sourceWidth is " + sourceWidth;
      throw new IllegalArgumentException("FrameHeader " + msg
          + "; pass both sides of the camera frame, or both 0 if unknown");
    }
    headSha256 = headSha256.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FrameHeader h && deviceId.equals(h.deviceId) && modelId.equals(h.modelId)
        && Arrays.equals(headSha256, h.headSha256) && sequence == h.sequence
        && captureEpochMicros == h.captureEpochMicros && sourceWidth == h.sourceWidth
        && sourceHeight == h.sourceHeight && epoch == h.epoch;
  }

  @Override
  public int hashCode() {
    return Objects.hash(deviceId, modelId, Arrays.hashCode(headSha256), sequence, captureEpochMicros, sourceWidth,
        sourceHeight, epoch);
  }

  @Override
  public String toString() {
    return "FrameHeader[deviceId=" + deviceId + ", modelId=" + modelId + ", headSha256="
        + HexFormat.of().formatHex(headSha256) + ", sequence=" + Long.toUnsignedString(sequence)
        + ", captureEpochMicros=" + captureEpochMicros + ", sourceWidth=" + sourceWidth + ", sourceHeight="
        + sourceHeight + ", epoch=" + epoch + "]";
  }
}

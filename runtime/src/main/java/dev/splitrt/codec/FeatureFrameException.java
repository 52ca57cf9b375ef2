package dev.splitrt.codec;

/**
 * A message is not a valid FeatureFrame v1. The {@link Reason} lets a tail runner count and
 * dead-letter by cause; the message says which field was wrong, with the numbers.
 */
public final class FeatureFrameException extends Exception {

  /** What kind of wrong; see {@code runtime/docs/feature-frame-v1.md}, "Decoder rules". */
  public enum Reason { TRUNCATED, BAD_MAGIC, UNSUPPORTED_VERSION, BAD_HEADER, TOO_LARGE, CRC_MISMATCH, BAD_PAYLOAD }

  private static final long serialVersionUID = 1L;

  private final Reason reason;

  FeatureFrameException(Reason reason, String message) {
    super("FeatureFrame " + reason + ": " + message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}

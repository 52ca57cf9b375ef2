package dev.splitrt.transport;

/**
 * The broker refused one publish for good (a PUBACK reason code of 0x80 or more, or a message larger
 * than the broker's maximum packet size): resending it would fail the same way, so {@link MqttLink}
 * fails its future with this instead of retrying. The message names the topic, the code and the fix.
 */
public final class PublishRejectedException extends Exception {
  private final String topic;
  private final int reasonCode;

  /** Not an MQTT code: the connection dropped each time this message was sent (see {@link MqttLink}). */
  public static final int CONNECTION_DROPPED = ReasonCode.CONNECTION_DROPPED.value();

  PublishRejectedException(String topic, int reasonCode, String message) {
    super(message);
    this.topic = topic;
    this.reasonCode = reasonCode;
  }

  /** The topic of the refused message. */
  public String topic() {
    return topic;
  }

  /** The MQTT 5 reason code, e.g. 0x87 not authorized, 0x97 quota exceeded, 0x95 packet too large. */
  public int reasonCode() {
    return reasonCode;
  }

  /** A stable snake_case word for the refusal, for metrics and logs. */
  public String reason() {
    return reason(reasonCode);
  }

  /** The refusal as the enum the runtime acts on ({@link ReasonCode#OTHER} for a code it does not name). */
  public ReasonCode code() {
    return ReasonCode.of(reasonCode);
  }

  static String reason(int code) {
    return ReasonCode.word(code);
  }

  static String describe(int code) {
    return ReasonCode.publishFix(code);
  }
}

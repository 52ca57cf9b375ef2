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
  public static final int CONNECTION_DROPPED = -1;

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

  static String reason(int code) {
    return switch (code) {
      case CONNECTION_DROPPED -> "connection_dropped";
      case 0x80 -> "unspecified_error";
      case 0x83 -> "implementation_specific";
      case 0x87 -> "not_authorized";
      case 0x90 -> "topic_name_invalid";
      case 0x91 -> "packet_id_in_use";
      case 0x95 -> "packet_too_large";
      case 0x97 -> "quota_exceeded";
      case 0x99 -> "payload_format_invalid";
      default -> "reason_0x" + Integer.toHexString(code);
    };
  }

  static String describe(int code) {
    return switch (code) {
      case CONNECTION_DROPPED -> "the broker or the client dropped the connection on this message each time (e.g. "
          + "Mosquitto's deprecated message_size_limit answers PUBACK 0x95, which Paho rejects): replace "
          + "message_size_limit with max_packet_size, which the broker announces and the link then respects";
      case 0x80 -> "unspecified error: see the broker's log";
      case 0x83 -> "implementation specific error: see the broker's log";
      case 0x87 -> "not authorized: the broker's ACL does not let this client publish there; grant the topic to "
          + "this client's user/certificate in the broker ACL, or publish to a topic it owns";
      case 0x90 -> "topic name invalid: use the Topics helpers";
      case 0x91 -> "packet identifier in use: a client bug or a second client with the same clientId; give each "
          + "process its own clientId";
      case 0x95 -> "packet too large: raise the broker's max_packet_size or send less (fewer codec bits, a smaller "
          + "bottleneck, entropy coding)";
      case 0x97 -> "quota exceeded: the broker throttles this client; raise its quota or publish less often";
      case 0x99 -> "payload format invalid: the payload does not match its declared format";
      default -> "see the MQTT 5 specification, section 3.4.2.1, and the broker's log";
    };
  }
}

package dev.splitrt.transport;

/**
 * The MQTT 5 reason codes (specification §2.4) the runtime acts on or explains, in one place: the CONNACK, PUBACK and
 * SUBACK refusals it reads, each with a stable snake_case word for metrics and logs and the fix to print. Codes the
 * runtime does not know map to {@link #OTHER}; the number itself is always kept beside it.
 */
public enum ReasonCode {
  /** Not an MQTT code: the connection dropped each time one message was sent (see {@link MqttLink}). */
  CONNECTION_DROPPED(-1, "connection_dropped", "the broker or the client dropped the connection on this message each time (e.g. "
      + "Mosquitto's deprecated message_size_limit answers PUBACK 0x95, which Paho rejects): replace "
      + "message_size_limit with max_packet_size, which the broker announces and the link then respects", null),
  UNSPECIFIED_ERROR(0x80, "unspecified_error", "unspecified error: see the broker's log", null),
  IMPLEMENTATION_SPECIFIC(0x83, "implementation_specific", "implementation specific error: see the broker's log", null),
  BAD_USER_NAME_OR_PASSWORD(0x86, "bad_user_name_or_password", "bad user name or password: check the credentials, or "
      + "use_identity_as_username for certificate clients", null),
  NOT_AUTHORIZED(0x87, "not_authorized", "not authorized: the broker's ACL does not let this client publish there; grant the "
      + "topic to this client's user/certificate in the broker ACL, or publish to a topic it owns",
      "not authorized: allow this client to read the topic in the broker ACL"),
  TOPIC_FILTER_INVALID(0x8F, "topic_filter_invalid", "topic filter invalid: build it with Topics",
      "topic filter invalid: build it with Topics"),
  TOPIC_NAME_INVALID(0x90, "topic_name_invalid", "topic name invalid: use the Topics helpers", null),
  PACKET_ID_IN_USE(0x91, "packet_id_in_use", "packet identifier in use: a client bug or a second client with the same "
      + "clientId; give each process its own clientId", null),
  PACKET_TOO_LARGE(0x95, "packet_too_large", "packet too large: raise the broker's max_packet_size or send less (fewer codec "
      + "bits, a smaller bottleneck, entropy coding)", null),
  QUOTA_EXCEEDED(0x97, "quota_exceeded", "quota exceeded: the broker throttles this client; raise its quota or publish less often",
      "quota exceeded"),
  PAYLOAD_FORMAT_INVALID(0x99, "payload_format_invalid", "payload format invalid: the payload does not match its declared format",
      null),
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED(0x9E, "shared_subscriptions_not_supported", null,
      "shared subscriptions not supported: use an MQTT 5 broker that has them (Mosquitto 2, HiveMQ, EMQX)"),
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED(0xA1, "subscription_identifiers_not_supported", null,
      "subscription identifiers not supported"),
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED(0xA2, "wildcard_subscriptions_not_supported", null,
      "wildcard subscriptions not supported by this broker"),
  /** A code this list does not name. */
  OTHER(Integer.MIN_VALUE, "other", "see the MQTT 5 specification, section 3.4.2.1, and the broker's log", "see the broker's log");

  private final int value;
  private final String word;
  private final String publishFix;
  private final String subscribeFix;

  ReasonCode(int value, String word, String publishFix, String subscribeFix) {
    this.value = value;
    this.word = word;
    this.publishFix = publishFix;
    this.subscribeFix = subscribeFix;
  }

  public static ReasonCode of(int value) {
    for (ReasonCode c : values()) {
      if (c.value == value) return c;
    }
    return OTHER;
  }

  /** The code as the wire carries it (-1 for {@link #CONNECTION_DROPPED}). */
  public int value() {
    return value;
  }

  /** A refusal: 0x80 and above (and the link's own {@link #CONNECTION_DROPPED}). */
  public static boolean refuses(int value) {
    return value >= 0x80 || value == CONNECTION_DROPPED.value;
  }

  /** Snake_case word for metrics and logs; unknown codes read {@code reason_0x..}. */
  static String word(int value) {
    ReasonCode c = of(value);
    return c == OTHER ? "reason_0x" + Integer.toHexString(value) : c.word;
  }

  /** What this refused PUBLISH means and how to fix it. */
  public String publishFixText() {
    return publishFix(value);
  }

  /** What a refused PUBLISH (or CONNECT) means and how to fix it. */
  static String publishFix(int value) {
    ReasonCode c = of(value);
    return c.publishFix != null ? c.publishFix : OTHER.publishFix;
  }

  /** What a refused SUBSCRIBE means and how to fix it. */
  static String subscribeFix(int value) {
    ReasonCode c = of(value);
    return c.subscribeFix != null ? c.subscribeFix : OTHER.subscribeFix;
  }
}

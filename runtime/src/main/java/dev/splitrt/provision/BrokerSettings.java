package dev.splitrt.provision;

/**
 * How the fleet's generated Mosquitto listener binds and what it bounds; kept in {@code fleet.yaml}
 * ({@code broker:}) so that every later {@code provision} command writes the same config. One set of
 * defaults: {@link #DEFAULTS}; a null field means "the default".
 *
 * @param port TCP port of the mutual-TLS listener
 * @param bindAddress the address the listener binds ({@code 0.0.0.0}: every interface, only when asked for)
 * @param group the broker's own group (Debian: {@code mosquitto}): broker files are made readable by it, the
 *     server key 0640, never world-readable; null = no group change (the broker must run as the file owner)
 * @param maxPacketBytes Mosquitto {@code max_packet_size}: larger packets are refused and their sender disconnected
 *     before the body is read
 * @param maxQueuedMessages per-client queue ({@code max_queued_messages})
 * @param maxQueuedBytes per-client queue in bytes ({@code max_queued_bytes})
 * @param maxInflightMessages per-client QoS 1 messages in flight ({@code max_inflight_messages})
 */
public record BrokerSettings(Integer port, String bindAddress, String group, Integer maxPacketBytes, Integer maxQueuedMessages,
    Long maxQueuedBytes, Integer maxInflightMessages) {
  /**
   * 256 KiB: 19x the largest legal FeatureFrame of the zoo's models (fs-leyolo-nano-det, 8x40x40 at 8 bits:
   * {@link FleetCa#largestFrameBytes} = 13.6 KB) and room for the chunks that carry larger ones.
   */
  public static final int DEFAULT_MAX_PACKET_BYTES = 256 * 1024;
  public static final BrokerSettings DEFAULTS = new BrokerSettings(8883, "127.0.0.1", null, DEFAULT_MAX_PACKET_BYTES, 1000,
      64L * 1024 * 1024, 20);

  public BrokerSettings {
    if (port != null && (port < 1 || port > 65535)) {
      throw new IllegalArgumentException("broker port " + port + " is not a TCP port; give 1..65535 (--port)");
    }
    if (bindAddress != null && !bindAddress.matches("[0-9A-Za-z.:\\-]+")) {
      throw new IllegalArgumentException("bind address '" + bindAddress + "' is not an address or host name (--bind-address)");
    }
    if (maxPacketBytes != null && maxPacketBytes < 1024) {
      throw new IllegalArgumentException("max packet size " + maxPacketBytes + " bytes is below 1 KiB: no FeatureFrame fits");
    }
  }

  /** Every null field replaced by its default. */
  public BrokerSettings resolved() {
    return new BrokerSettings(port != null ? port : DEFAULTS.port, bindAddress != null ? bindAddress : DEFAULTS.bindAddress, group,
        maxPacketBytes != null ? maxPacketBytes : DEFAULTS.maxPacketBytes,
        maxQueuedMessages != null ? maxQueuedMessages : DEFAULTS.maxQueuedMessages,
        maxQueuedBytes != null ? maxQueuedBytes : DEFAULTS.maxQueuedBytes,
        maxInflightMessages != null ? maxInflightMessages : DEFAULTS.maxInflightMessages);
  }

  public BrokerSettings withPort(int p) {
    return new BrokerSettings(p, bindAddress, group, maxPacketBytes, maxQueuedMessages, maxQueuedBytes, maxInflightMessages);
  }

  public BrokerSettings withBindAddress(String a) {
    return new BrokerSettings(port, a, group, maxPacketBytes, maxQueuedMessages, maxQueuedBytes, maxInflightMessages);
  }

  public BrokerSettings withGroup(String g) {
    return new BrokerSettings(port, bindAddress, g, maxPacketBytes, maxQueuedMessages, maxQueuedBytes, maxInflightMessages);
  }

  public BrokerSettings withMaxPacketBytes(int n) {
    return new BrokerSettings(port, bindAddress, group, n, maxQueuedMessages, maxQueuedBytes, maxInflightMessages);
  }
}

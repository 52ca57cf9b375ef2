package dev.splitrt.edge;

import dev.splitrt.codec.FeatureChunks;
import dev.splitrt.transport.MqttLink;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Hands one FeatureFrame to the link: one message, or a chunk set ({@code feature-chunk-v1.md}) when
 * the frame does not fit the largest packet the link may send now (the broker's CONNACK Maximum
 * Packet Size or the configured cap) and chunking is on. The one place both send paths (the
 * in-memory outbox of {@link EdgeDaemon} and the spool's {@link Delivery}) decide this.
 */
final class FeaturePublisher {
  /** The remaining-length field of a PUBLISH may grow by up to 3 bytes as the payload grows. */
  private static final int LENGTH_FIELD_GROWTH = 3;

  private FeaturePublisher() {}

  /**
   * @param acked completes when every part is acknowledged; fails with the first part's failure
   *     itself (e.g. {@link dev.splitrt.transport.PublishRejectedException}), not wrapped
   * @param chunked sent as a chunk set (else one message)
   */
  record Sent(CompletableFuture<Void> acked, boolean chunked) {}

  /**
   * Publishes {@code frame} on {@code topic} (QoS 1, with the MQTT 5 expiry {@code expiresAtMillis},
   * 0 = none). Not known before the link's first connection (max packet 0): then it goes whole, and
   * the link refuses it for good (0x95) if the broker turns out to take less; {@link Delivery} sends
   * such a feature again, split.
   */
  static Sent publish(MqttLink link, String topic, byte[] frame, boolean chunking, long expiresAtMillis)
      throws InterruptedException {
    boolean expiring = expiresAtMillis > 0;
    long max = link.maxPacketBytes();
    if (!chunking || max <= 0 || MqttLink.publishPacketBytes(topic, frame.length, expiring) <= max) {
      return new Sent(link.publish(topic, frame, 1, false, expiresAtMillis), false);
    }
    long room = max - MqttLink.publishPacketBytes(topic, 0, expiring) - LENGTH_FIELD_GROWTH;
    List<byte[]> chunks = FeatureChunks.split(frame, (int) Math.min(Integer.MAX_VALUE, room));
    CompletableFuture<?>[] acks = new CompletableFuture<?>[chunks.size()];
    for (int i = 0; i < acks.length; i++) acks[i] = link.publish(topic, chunks.get(i), 1, false, expiresAtMillis);
    // allOf wraps the cause in a CompletionException; callers tell refusals from other failures by type.
    CompletableFuture<Void> all = new CompletableFuture<>();
    CompletableFuture.allOf(acks).whenComplete((ok, error) -> {
      if (error == null) {
        all.complete(null);
      } else {
        all.completeExceptionally(error instanceof CompletionException && error.getCause() != null ? error.getCause() : error);
      }
    });
    return new Sent(all, true);
  }
}

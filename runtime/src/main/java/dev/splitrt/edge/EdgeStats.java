package dev.splitrt.edge;

/**
 * Counts of one edge run. Once the pipeline is idle, {@code captured = accepted + dropped + failed}:
 * {@code dropped} frames were discarded before the head because the device fell behind a live
 * source; {@code accepted} features are in the transport's outbox or already {@code acked} by the
 * broker, and are never discarded.
 */
public record EdgeStats(long captured, long accepted, long dropped, long failed, long acked, long featureBytes) {}

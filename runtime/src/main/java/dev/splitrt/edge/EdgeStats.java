package dev.splitrt.edge;

/**
 * Counts of one edge run. {@code captured = accepted + dropped + failed} once the pipeline is idle;
 * {@code dropped} frames were discarded before the head because the device fell behind.
 */
public record EdgeStats(long captured, long accepted, long dropped, long failed, long featureBytes) {}

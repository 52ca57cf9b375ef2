package dev.splitrt.codec;

/**
 * Which values share one quantization scale: the whole tensor, or each channel (axis 1 of the
 * shape). Per-channel costs 8 bytes of header per channel and helps when channels differ in range.
 */
public enum Granularity {
  PER_TENSOR,
  PER_CHANNEL
}

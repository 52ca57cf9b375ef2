package dev.splitrt.codec;

/**
 * Which values share one quantizer: the whole tensor, or each channel (axis 1 of the shape), with
 * one uniform range or three. Per-channel costs header bytes per channel and helps when channels
 * differ in range; the three-range variants (SplitQuant's idea applied to activations) split each
 * group's values into three k-means clusters with their own scale and zero point, so a few
 * outliers no longer stretch the step of the dense middle. Wire ids: {@code PER_TENSOR} = 0,
 * {@code PER_CHANNEL} = 1 (FeatureFrame v1); {@code THREE_RANGE} = 2,
 * {@code THREE_RANGE_PER_CHANNEL} = 3 (FeatureFrame v2).
 */
public enum Granularity {
  PER_TENSOR,
  PER_CHANNEL,
  THREE_RANGE,
  THREE_RANGE_PER_CHANNEL;

  /** One parameter group per channel (axis 1) rather than one for the whole tensor. */
  public boolean perChannel() {
    return this == PER_CHANNEL || this == THREE_RANGE_PER_CHANNEL;
  }

  /** Quantization ranges per parameter group: 1 (uniform) or 3 (three-range). */
  public int ranges() {
    return this == THREE_RANGE || this == THREE_RANGE_PER_CHANNEL ? 3 : 1;
  }
}

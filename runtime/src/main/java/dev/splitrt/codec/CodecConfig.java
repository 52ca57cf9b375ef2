package dev.splitrt.codec;

/**
 * A codec as configuration writes it (the manifest's {@code bottleneck.codec}, a profile's or an edge config's
 * {@code pipeline.codec}): the raw fields, validated into a {@link CodecSpec} by {@link CodecSpec#of(CodecConfig)}.
 * It lives here, not in the manifest, so that the codec depends on no model or config type.
 */
public record CodecConfig(int bits, String granularity, boolean symmetric, String entropy) {}

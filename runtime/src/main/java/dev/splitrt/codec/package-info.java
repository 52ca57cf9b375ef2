/**
 * The FeatureFrame wire format ({@code runtime/docs/feature-frame-v1.md}, {@code -v2.md}): bottleneck
 * quantizers (uniform and three-range), bit packing, entropy coding (DEFLATE, zstd), and a strict
 * decoder that checks every bound before it allocates.
 */
package dev.splitrt.codec;

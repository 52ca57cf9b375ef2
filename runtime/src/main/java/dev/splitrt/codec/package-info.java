/**
 * The FeatureFrame v1 wire format ({@code runtime/docs/feature-frame-v1.md}): bottleneck quantizers,
 * bit packing, entropy coding, and a strict decoder that checks every bound before it allocates.
 */
package dev.splitrt.codec;

package dev.splitrt.codec;

/**
 * The lossless stage after bit packing. Wire ids: {@code NONE} = 0, {@code DEFLATE} = 1 (a zlib
 * stream, RFC 1950; FeatureFrame v1), {@code ZSTD} = 2 (one Zstandard frame, RFC 8878; FeatureFrame
 * v2). zstd usually packs bottleneck codes a little tighter than DEFLATE at a fraction of its CPU time.
 */
public enum Entropy {
  NONE,
  DEFLATE,
  ZSTD
}

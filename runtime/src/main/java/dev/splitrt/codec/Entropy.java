package dev.splitrt.codec;

/**
 * The lossless stage after bit packing. Wire ids: {@code NONE} = 0, {@code DEFLATE} = 1 (a zlib
 * stream, RFC 1950); id 2 is reserved for zstd in a later version.
 */
public enum Entropy {
  NONE,
  DEFLATE
}

package dev.splitrt.edge;

import dev.splitrt.codec.CodecSpec;

/**
 * The edge pipeline's resolved settings: the device profile's defaults with the daemon config's
 * overrides applied ({@link EdgeDaemon#settings}).
 *
 * @param fpsCap frames per second at most (0 = as fast as source and pipeline allow)
 * @param queueDepth frames waiting for the head at most; beyond it a live source drops the oldest
 * @param threads inference threads for the head (0 = backend default)
 * @param chunking split a FeatureFrame larger than the link's maximum packet into chunks (feature-chunk-v1.md)
 */
public record EdgeSettings(String deviceId, String fleet, double fpsCap, int queueDepth, int threads, CodecSpec codec,
                           boolean chunking) {
  public EdgeSettings(String deviceId, String fleet, double fpsCap, int queueDepth, int threads, CodecSpec codec) {
    this(deviceId, fleet, fpsCap, queueDepth, threads, codec, true);
  }

  public EdgeSettings {
    if (queueDepth < 1) throw new IllegalArgumentException("queueDepth must be >= 1, was " + queueDepth);
    if (fpsCap < 0) throw new IllegalArgumentException("fpsCap must be >= 0, was " + fpsCap);
  }
}

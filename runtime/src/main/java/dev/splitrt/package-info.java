/**
 * SplitRT: a split-computing runtime. The head of a DNN runs on the device, its bottleneck
 * features travel over MQTT as {@code FeatureFrame}s, and a tail runner finishes inference.
 */
package dev.splitrt;

/**
 * The on-device daemon: frame source → preprocess → head → encode → publish. Hand-offs are bounded;
 * when the device falls behind a live source it drops the oldest frame before the head (counted),
 * never a feature already accepted for sending.
 */
package dev.splitrt.edge;

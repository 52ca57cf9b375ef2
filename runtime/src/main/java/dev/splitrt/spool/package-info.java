/**
 * The device's durable spool: accepted features on disk until their result comes back (or they
 * expire with a counted reason), and the boot epoch that makes {@code (device, epoch, sequence)}
 * unique across restarts. The format and its guarantees are in {@code runtime/docs/delivery.md}.
 */
package dev.splitrt.spool;

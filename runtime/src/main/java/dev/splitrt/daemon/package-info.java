/**
 * What the daemons share and the edge daemon's process entry: broker config to link settings, signal
 * handling, and {@link dev.splitrt.daemon.EdgeMain} (the device assembly's main class; the
 * {@code splitrt edge} command runs the same code).
 */
package dev.splitrt.daemon;

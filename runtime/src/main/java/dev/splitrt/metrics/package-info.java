/** Per-stage latency histograms and counters, and their Prometheus text exposition. */
package dev.splitrt.metrics;

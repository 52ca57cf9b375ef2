package dev.splitrt.metrics;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;

/**
 * The named counters, gauges and latency histograms of one daemon, written out in the Prometheus
 * text format (version 0.0.4). Histograms are exposed as summaries (p50/p95/p99 quantiles), which is
 * what an operator reads; names follow Prometheus conventions ({@code splitrt_edge_frames_total}).
 */
public final class MetricsRegistry {
  private final Map<String, Metric> metrics = new ConcurrentSkipListMap<>();

  private sealed interface Metric permits CounterMetric, GaugeMetric, SummaryMetric {
    String help();
  }

  private record CounterMetric(String help, LongAdder value) implements Metric {}

  private record GaugeMetric(String help, DoubleSupplier value) implements Metric {}

  private record SummaryMetric(String help, LatencyHistogram histogram) implements Metric {}

  /** Returns the counter of that name, creating it on first use. */
  public LongAdder counter(String name, String help) {
    return ((CounterMetric) metrics.computeIfAbsent(checked(name), n -> new CounterMetric(help, new LongAdder()))).value();
  }

  public void gauge(String name, String help, DoubleSupplier value) {
    metrics.put(checked(name), new GaugeMetric(help, value));
  }

  /** Returns the latency histogram of that name (exposed in seconds), creating it on first use. */
  public LatencyHistogram histogram(String name, String help) {
    return ((SummaryMetric) metrics.computeIfAbsent(checked(name), n -> new SummaryMetric(help, new LatencyHistogram()))).histogram();
  }

  public String prometheusText() {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, Metric> e : metrics.entrySet()) {
      String name = e.getKey();
      Metric m = e.getValue();
      sb.append("# HELP ").append(name).append(' ').append(m.help().replace('\n', ' ')).append('\n');
      if (m instanceof CounterMetric c) {
        sb.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(c.value().sum()).append('\n');
      } else if (m instanceof GaugeMetric g) {
        sb.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(number(g.value().getAsDouble())).append('\n');
      } else if (m instanceof SummaryMetric s) {
        LatencyHistogram.Snapshot snap = s.histogram().snapshot();
        sb.append("# TYPE ").append(name).append(" summary\n");
        sb.append(name).append("{quantile=\"0.5\"} ").append(number(snap.p50() / 1000)).append('\n');
        sb.append(name).append("{quantile=\"0.95\"} ").append(number(snap.p95() / 1000)).append('\n');
        sb.append(name).append("{quantile=\"0.99\"} ").append(number(snap.p99() / 1000)).append('\n');
        sb.append(name).append("_sum ").append(number(snap.sumSeconds())).append('\n');
        sb.append(name).append("_count ").append(snap.count()).append('\n');
      }
    }
    return sb.toString();
  }

  private static String number(double v) {
    if (Double.isNaN(v)) return "NaN";
    if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
    return String.format(Locale.ROOT, "%.9g", v);
  }

  private static String checked(String name) {
    if (!name.matches("[a-zA-Z_:][a-zA-Z0-9_:]*")) throw new IllegalArgumentException("not a Prometheus metric name: " + name);
    return name;
  }
}

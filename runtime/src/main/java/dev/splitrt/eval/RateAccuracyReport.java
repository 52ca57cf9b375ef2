package dev.splitrt.eval;

import dev.splitrt.codec.CodecSpec;
import dev.splitrt.codec.Entropy;
import dev.splitrt.codec.Granularity;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Writes a {@link CodecSweep.Result} the way people read it: a Markdown table and a CSV (one row per
 * configuration, bytes per frame next to the metric) and a rate-accuracy PNG drawn with Java2D
 * (bytes per frame on a log axis; one colour per quantizer family, one marker per entropy stage;
 * dashed lines for the FP32 figure, the accuracy floor and the byte budget), so a codec choice can
 * be made by looking rather than reading.
 *
 * @see CodecSweep
 */
public final class RateAccuracyReport {
  /** The y axis shows at most this far (as a fraction) below the FP32 line. */
  private static final double WINDOW = 0.15;
  private static final Color[] FAMILY_COLOURS = {
      new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
      new Color(0x8c564b)};

  /**
   * The lines the reader judges against: {@code fp32} (the model card's unsplit FP32 figure),
   * {@code floor} (the lowest acceptable metric), {@code budgetBytes} (the most bytes per frame allowed);
   * any may be NaN / 0 to leave it out.
   */
  public record Targets(double fp32, double floor, int budgetBytes) {}

  private RateAccuracyReport() {}

  /** A Markdown table: configuration, bytes per frame (mean, max, ratio to raw), metric, delta to FP32, within targets. */
  public static String markdown(CodecSweep.Result r, Targets t) {
    boolean det = r.task() == dev.splitrt.model.ModelManifest.Task.DETECTION;
    StringBuilder b = new StringBuilder();
    b.append("| weights | configuration | bytes/frame (mean) | max | raw / bytes | ").append(r.metricName())
        .append(det ? " | mAP@0.5:0.95" : "").append(" | Δ vs FP32 (pt) | meets both |\n");
    b.append("| --- | --- | ---: | ---: | ---: | ---: |").append(det ? " ---: |" : "").append(" ---: | :---: |\n");
    for (CodecSweep.Row row : r.rows()) {
      boolean ref = row.codec() == null;
      b.append("| ").append(row.variant()).append(" | ").append(ref ? "*" + row.name() + "*" : "`" + row.name() + "`")
          .append(" | ").append(ref ? "—" : String.format(Locale.ROOT, "%,.0f", row.meanBytes()))
          .append(" | ").append(ref ? "—" : String.format(Locale.ROOT, "%,d", row.maxBytes()))
          .append(" | ").append(ref ? "—" : String.format(Locale.ROOT, "%.1f", r.rawInputBytes() / row.meanBytes()))
          .append(" | ").append(pct(row.metric()));
      if (det) b.append(" | ").append(pct(row.map5095()));
      b.append(" | ").append(Double.isNaN(t.fp32()) ? "—" : String.format(Locale.ROOT, "%+.2f", 100 * (row.metric() - t.fp32())))
          .append(" | ").append(ref ? "" : meets(row, t) ? "yes" : "").append(" |\n");
    }
    return b.toString();
  }

  /** True when the row is within the byte budget (by its largest message) and at or above the floor. */
  public static boolean meets(CodecSweep.Row row, Targets t) {
    return row.codec() != null && (t.budgetBytes() <= 0 || row.maxBytes() <= t.budgetBytes())
        && (Double.isNaN(t.floor()) || row.metric() >= t.floor() - 1e-12);
  }

  /** CSV with a header line; metrics as fractions, bytes as numbers. */
  public static String csv(CodecSweep.Result r) {
    StringBuilder b = new StringBuilder("model,weights,configuration,bits,granularity,symmetric,entropy,frames,"
        + "mean_bytes,max_bytes,raw_bytes,metric,metric_name,map50_95\n");
    for (CodecSweep.Row row : r.rows()) {
      CodecSpec c = row.codec();
      b.append(r.modelId()).append(',').append(row.variant()).append(',').append(row.name()).append(',')
          .append(c == null ? "" : c.bits()).append(',')
          .append(c == null ? "" : c.granularity().name().toLowerCase(Locale.ROOT)).append(',')
          .append(c == null ? "" : c.symmetric()).append(',')
          .append(c == null ? "" : c.entropy().name().toLowerCase(Locale.ROOT)).append(',')
          .append(row.frames()).append(',')
          .append(c == null ? "" : String.format(Locale.ROOT, "%.1f", row.meanBytes())).append(',')
          .append(c == null ? "" : row.maxBytes()).append(',').append(r.rawInputBytes()).append(',')
          .append(String.format(Locale.ROOT, "%.6f", row.metric())).append(',').append(r.metricName()).append(',')
          .append(Double.isNaN(row.map5095()) ? "" : String.format(Locale.ROOT, "%.6f", row.map5095())).append('\n');
    }
    return b.toString();
  }

  /** Family of a codec for colouring: granularity plus symmetry. */
  static String family(CodecSpec c) {
    String g = c.granularity().name().toLowerCase(Locale.ROOT);
    return c.granularity().ranges() == 3 ? g : g + (c.symmetric() ? " sym" : " asym");
  }

  /** Draws the rate-accuracy plot of one weights variant ({@code variant}) into {@code png}. */
  public static void plot(CodecSweep.Result r, String variant, Targets t, Path png) throws IOException {
    List<CodecSweep.Row> rows = r.rows().stream().filter(x -> x.variant().equals(variant) && x.codec() != null).toList();
    if (rows.isEmpty()) throw new IllegalArgumentException("no codec rows for weights '" + variant + "'");
    final int w = 1400;
    final int h = 900;
    final int left = 110;
    final int right = 390;
    final int top = 80;
    final int bottom = 100;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      double minB = rows.stream().mapToDouble(CodecSweep.Row::meanBytes).min().orElseThrow();
      double maxB = rows.stream().mapToDouble(CodecSweep.Row::meanBytes).max().orElseThrow();
      if (t.budgetBytes() > 0) {
        minB = Math.min(minB, t.budgetBytes());
        maxB = Math.max(maxB, t.budgetBytes());
      }
      double x0 = Math.floor(Math.log10(minB * 0.9) * 4) / 4;
      double x1 = Math.ceil(Math.log10(maxB * 1.1) * 4) / 4;
      double minM = rows.stream().mapToDouble(CodecSweep.Row::metric).min().orElseThrow();
      double maxM = rows.stream().mapToDouble(CodecSweep.Row::metric).max().orElseThrow();
      if (!Double.isNaN(t.fp32())) maxM = Math.max(maxM, t.fp32());
      if (!Double.isNaN(t.floor())) minM = Math.min(minM, t.floor());
      // Keep the decision region readable: at most WINDOW below the FP32 line; lower points sit on the axis as arrows.
      boolean clipped = !Double.isNaN(t.fp32()) && minM < t.fp32() - WINDOW;
      if (clipped) minM = t.fp32() - WINDOW;
      double yStep = niceStep((maxM - minM) * 100 / 8);
      double y0 = Math.floor(minM * 100 / yStep) * yStep;
      final double yFloor = y0 / 100 - 1e-12;
      double y1 = Math.ceil(maxM * 100 / yStep) * yStep + yStep / 2;
      final int pw = w - left - right;
      final int ph = h - top - bottom;
      Axis ax = new Axis(left, top, pw, ph, x0, x1, y0, y1);

      // grid and ticks
      Font tick = new Font(Font.SANS_SERIF, Font.PLAIN, 16);
      g.setFont(tick);
      FontMetrics fm = g.getFontMetrics();
      for (int e = (int) Math.floor(x0); e <= Math.ceil(x1); e++) {
        for (int m = 1; m <= 9; m++) {
          double lx = e + Math.log10(m);
          if (lx < x0 - 1e-9 || lx > x1 + 1e-9) continue;
          int px = ax.px(lx);
          g.setColor(m == 1 ? new Color(0xcccccc) : new Color(0xeeeeee));
          g.drawLine(px, top, px, top + ph);
          g.setColor(Color.DARK_GRAY);
          g.drawLine(px, top + ph, px, top + ph + (m == 1 ? 10 : 5));
          if (m == 1 || m == 2 || m == 5) {
            String s = String.format(Locale.ROOT, "%,d", Math.round(Math.pow(10, lx)));
            g.drawString(s, px - fm.stringWidth(s) / 2, top + ph + 30);
          }
        }
      }
      for (double yv = y0; yv <= y1 + 1e-9; yv += yStep) {
        int py = ax.py(yv);
        g.setColor(new Color(0xe6e6e6));
        g.drawLine(left, py, left + pw, py);
        g.setColor(Color.DARK_GRAY);
        g.drawLine(left - 8, py, left, py);
        String s = yStep >= 1 ? String.format(Locale.ROOT, "%.0f", yv) : String.format(Locale.ROOT, "%.1f", yv);
        g.drawString(s, left - 14 - fm.stringWidth(s), py + fm.getAscent() / 2 - 2);
      }
      g.setColor(Color.BLACK);
      g.setStroke(new BasicStroke(1.5f));
      g.drawRect(left, top, pw, ph);

      // reference lines
      Stroke dashed = new Stroke(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {10f, 7f}, 0f));
      if (!Double.isNaN(t.fp32())) {
        g.setColor(new Color(0x333333));
        g.setStroke(dashed.s);
        g.drawLine(left, ax.py(100 * t.fp32()), left + pw, ax.py(100 * t.fp32()));
      }
      if (!Double.isNaN(t.floor())) {
        g.setColor(new Color(0xc00000));
        g.setStroke(dashed.s);
        g.drawLine(left, ax.py(100 * t.floor()), left + pw, ax.py(100 * t.floor()));
      }
      if (t.budgetBytes() > 0) {
        g.setColor(new Color(0x0050c0));
        g.setStroke(dashed.s);
        int bx = ax.px(Math.log10(t.budgetBytes()));
        g.drawLine(bx, top, bx, top + ph);
      }

      // series: per family and entropy, connected in bit order, clipped to the plot area
      java.awt.Shape oldClip = g.getClip();
      g.setClip(left, top, pw, ph);
      List<String> families = new ArrayList<>();
      for (CodecSweep.Row row : rows) if (!families.contains(family(row.codec()))) families.add(family(row.codec()));
      g.setStroke(new BasicStroke(2f));
      for (int f = 0; f < families.size(); f++) {
        Color c = FAMILY_COLOURS[f % FAMILY_COLOURS.length];
        for (Entropy e : Entropy.values()) {
          final String fam = families.get(f);
          List<CodecSweep.Row> s = rows.stream().filter(x -> family(x.codec()).equals(fam) && x.codec().entropy() == e)
              .sorted(Comparator.comparingInt(x -> x.codec().bits())).toList();
          g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), e == Entropy.ZSTD ? 230 : 110));
          for (int k = 1; k < s.size(); k++) {
            g.draw(new Line2D.Double(ax.pxd(Math.log10(s.get(k - 1).meanBytes())), ax.pyd(100 * s.get(k - 1).metric()),
                ax.pxd(Math.log10(s.get(k).meanBytes())), ax.pyd(100 * s.get(k).metric())));
          }
          for (CodecSweep.Row p : s) {
            if (p.metric() < yFloor) continue;
            Shape m = marker(e, ax.pxd(Math.log10(p.meanBytes())), ax.pyd(100 * p.metric()), 7);
            g.fill(m);
            g.setColor(Color.WHITE);
            g.setStroke(new BasicStroke(1f));
            g.draw(m);
            g.setStroke(new BasicStroke(2f));
            g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), e == Entropy.ZSTD ? 230 : 110));
          }
        }
      }
      g.setClip(oldClip);
      int below = 0;
      for (CodecSweep.Row p : rows) {
        if (p.metric() >= yFloor) continue;
        below++;
        int fi = families.indexOf(family(p.codec()));
        g.setColor(FAMILY_COLOURS[fi % FAMILY_COLOURS.length]);
        int bx = ax.px(Math.log10(p.meanBytes()));
        int by = top + ph - 4;
        g.fillPolygon(new int[] {bx - 6, bx + 6, bx}, new int[] {by - 10, by - 10, by}, 3);
      }
      final int belowCount = below;
      // bit-width labels above the entropy-none points of the per-tensor asymmetric family
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
      g.setColor(new Color(0x444444));
      for (CodecSweep.Row p : rows) {
        if (p.metric() >= yFloor && p.codec().entropy() == Entropy.NONE && p.codec().granularity() == Granularity.PER_TENSOR
            && !p.codec().symmetric()) {
          String s = p.codec().bits() + " bit";
          g.drawString(s, ax.px(Math.log10(p.meanBytes())) - g.getFontMetrics().stringWidth(s) / 2,
              ax.py(100 * p.metric()) - 14);
        }
      }

      // labels
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 24));
      String title = r.modelId() + ": bottleneck codecs, bytes per frame vs " + r.metricName()
          + ("fp32".equals(variant) ? "" : " (weights " + variant + ")");
      g.drawString(title, left, 45);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 19));
      String xl = "bytes per frame (whole FeatureFrame message, mean over " + rows.get(0).frames() + " eval frames; log scale)";
      g.drawString(xl, left + pw / 2 - g.getFontMetrics().stringWidth(xl) / 2, h - 35);
      Graphics2D gy = (Graphics2D) g.create();
      gy.rotate(-Math.PI / 2);
      String yl = r.metricName() + " (%)";
      gy.drawString(yl, -(top + ph / 2) - gy.getFontMetrics().stringWidth(yl) / 2, 40);
      gy.dispose();

      // legend
      int lx = left + pw + 25;
      int ly = top + 10;
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      g.drawString("quantizer", lx, ly);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 16));
      ly += 26;
      for (int f = 0; f < families.size(); f++) {
        g.setColor(FAMILY_COLOURS[f % FAMILY_COLOURS.length]);
        g.setStroke(new BasicStroke(3f));
        g.drawLine(lx, ly - 5, lx + 30, ly - 5);
        g.setColor(Color.BLACK);
        g.drawString(families.get(f), lx + 40, ly);
        ly += 24;
      }
      ly += 12;
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      g.drawString("entropy stage", lx, ly);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 16));
      ly += 26;
      for (Entropy e : Entropy.values()) {
        g.setColor(Color.DARK_GRAY);
        g.fill(marker(e, lx + 15, ly - 5, 7));
        g.setColor(Color.BLACK);
        g.drawString(e.name().toLowerCase(Locale.ROOT), lx + 40, ly);
        ly += 24;
      }
      ly += 12;
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      g.drawString("targets", lx, ly);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 16));
      ly += 26;
      Object[][] lines = {
          {new Color(0x333333), Double.isNaN(t.fp32()) ? null : String.format(Locale.ROOT, "unsplit FP32 (%.2f %%)", 100 * t.fp32())},
          {new Color(0xc00000), Double.isNaN(t.floor()) ? null : String.format(Locale.ROOT, "floor (%.2f %%)", 100 * t.floor())},
          {new Color(0x0050c0), t.budgetBytes() <= 0 ? null : String.format(Locale.ROOT, "budget %,d B (raw / %.0f)", t.budgetBytes(),
              (double) r.rawInputBytes() / t.budgetBytes())}};
      for (Object[] line : lines) {
        if (line[1] == null) continue;
        g.setColor((Color) line[0]);
        g.setStroke(dashed.s);
        g.drawLine(lx, ly - 5, lx + 30, ly - 5);
        g.setColor(Color.BLACK);
        g.drawString((String) line[1], lx + 40, ly);
        ly += 24;
      }
      ly += 12;
      g.setFont(new Font(Font.SANS_SERIF, Font.ITALIC, 14));
      g.setColor(Color.DARK_GRAY);
      for (String s : new String[] {"points of one colour: 8, 6, 4, 2 bits", "(right to left); entropy stages of one",
          "quantizer share its accuracy", "raw input: " + String.format(Locale.ROOT, "%,d", r.rawInputBytes()) + " B",
          belowCount == 0 ? "" : "▼ on the x axis: " + belowCount + " configurations",
          belowCount == 0 ? "" : String.format(Locale.ROOT, "below %.1f %% (see the table)", 100 * yFloor)}) {
        g.drawString(s, lx, ly);
        ly += 20;
      }
    } finally {
      g.dispose();
    }
    Path parent = png.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    if (!ImageIO.write(img, "png", png.toFile())) throw new IOException(png + ": no PNG writer in this JVM");
  }

  private record Stroke(java.awt.Stroke s) {}

  private static Shape marker(Entropy e, double x, double y, double r) {
    return switch (e) {
      case NONE -> new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
      case DEFLATE -> new Rectangle2D.Double(x - r * 0.9, y - r * 0.9, 1.8 * r, 1.8 * r);
      case ZSTD -> new Polygon(new int[] {(int) Math.round(x), (int) Math.round(x + r * 1.1), (int) Math.round(x - r * 1.1)},
          new int[] {(int) Math.round(y - r * 1.2), (int) Math.round(y + r * 0.9), (int) Math.round(y + r * 0.9)}, 3);
    };
  }

  private static String pct(double v) {
    return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, "%.2f %%", 100 * v);
  }

  private static double niceStep(double raw) {
    double p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (double m : new double[] {1, 2, 2.5, 5, 10}) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  /** Data to pixels: x in log10(bytes), y in percent. */
  private record Axis(int left, int top, int pw, int ph, double x0, double x1, double y0, double y1) {
    double pxd(double lx) {
      return left + (lx - x0) / (x1 - x0) * pw;
    }

    double pyd(double yv) {
      return top + ph - (yv - y0) / (y1 - y0) * ph;
    }

    int px(double lx) {
      return (int) Math.round(pxd(lx));
    }

    int py(double yv) {
      return (int) Math.round(pyd(yv));
    }
  }
}

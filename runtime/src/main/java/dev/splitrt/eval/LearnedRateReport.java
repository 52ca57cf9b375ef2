package dev.splitrt.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
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
 * Tables and the rate-accuracy PNG of the learned-codec models ({@link LearnedSweep}) beside fixed-width
 * codecs (rows of an earlier {@code splitrt eval} CSV on the same frames): x = mean bytes per frame
 * (log scale) with bits per pixel under it, y = the metric; JPEG q90 and the raw frame marked.
 */
public final class LearnedRateReport {
  private LearnedRateReport() {}

  /** A fixed-width codec's measured point (from a codec-sweep CSV). */
  public record Fixed(String name, double meanBytes, double metric) {}

  /** Codec rows (fp32 weights, with bytes) of a CSV written by {@link RateAccuracyReport#csv}. */
  public static List<Fixed> readCsv(Path csv) throws IOException {
    List<Fixed> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(csv);
    if (lines.isEmpty() || !lines.get(0).startsWith("model,weights,configuration,")) {
      throw new IOException(csv + ": not a splitrt eval CSV (header 'model,weights,configuration,...')");
    }
    for (String l : lines.subList(1, lines.size())) {
      String[] f = l.split(",", -1);
      if (f.length < 12 || !f[1].equals("fp32") || f[8].isEmpty()) continue;
      out.add(new Fixed(f[2], Double.parseDouble(f[8]), Double.parseDouble(f[11])));
    }
    return out;
  }

  /** Points of CSVs written by {@link #csv} (to draw runs measured separately on the same frames in one plot). */
  public static List<LearnedSweep.Point> readLearnedCsv(Path csv) throws IOException {
    List<String> lines = Files.readAllLines(csv);
    if (lines.isEmpty() || !lines.get(0).startsWith("configuration,frames,mean_bytes,max_bytes,bpp,metric,")) {
      throw new IOException(csv + ": not a splitrt eval --learned CSV (header 'configuration,frames,mean_bytes,...')");
    }
    List<LearnedSweep.Point> out = new ArrayList<>();
    for (String l : lines.subList(1, lines.size())) {
      String[] f = l.split(",", -1);
      out.add(new LearnedSweep.Point(f[0], Long.parseLong(f[1]), Double.parseDouble(f[2]), Integer.parseInt(f[3]),
          Double.parseDouble(f[5]), f[6].isEmpty() ? Double.NaN : Double.parseDouble(f[6]), Long.parseLong(f[7]),
          Long.parseLong(f[8])));
    }
    return out;
  }

  public static String markdown(List<LearnedSweep.Point> pts, double unsplit, int pixels, int rawBytes, String metric) {
    StringBuilder b = new StringBuilder("| model (learned codec) | frames | bytes/frame (mean) | max | bpp | raw / bytes | ")
        .append(metric).append(" | Δ vs unsplit (pt) | encode p50 (µs) | decode p50 (µs) |\n")
        .append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (LearnedSweep.Point p : pts) {
      b.append(String.format(Locale.ROOT, "| `%s` | %d | %,.1f | %,d | %.3f | %.0f | %.2f %% | %s | %.0f | %.0f |%n", p.modelId(),
          p.frames(), p.meanBytes(), p.maxBytes(), p.meanBytes() * 8 / pixels, rawBytes / p.meanBytes(), 100 * p.metric(),
          Double.isNaN(unsplit) ? "—" : String.format(Locale.ROOT, "%+.2f", 100 * (p.metric() - unsplit)),
          p.encodeNanosMedian() / 1e3, p.decodeNanosMedian() / 1e3));
    }
    return b.toString();
  }

  public static String csv(List<LearnedSweep.Point> pts, int pixels) {
    StringBuilder b = new StringBuilder("configuration,frames,mean_bytes,max_bytes,bpp,metric,map50_95,encode_ns_p50,decode_ns_p50\n");
    for (LearnedSweep.Point p : pts) {
      b.append(String.format(Locale.ROOT, "%s,%d,%.1f,%d,%.5f,%.6f,%s,%d,%d%n", p.modelId(), p.frames(), p.meanBytes(),
          p.maxBytes(), p.meanBytes() * 8 / pixels, p.metric(), Double.isNaN(p.map5095()) ? "" : String.format(Locale.ROOT,
              "%.6f", p.map5095()), p.encodeNanosMedian(), p.decodeNanosMedian()));
    }
    return b.toString();
  }

  public static void plot(List<LearnedSweep.Point> learned, List<Fixed> fixed, double unsplit, double floor, int jpegBytes,
      int rawBytes, int pixels, String title, String metric, Path png) throws IOException {
    final int w = 1300;
    final int h = 820;
    final int left = 110;
    final int right = 330;
    final int top = 70;
    final int bottom = 120;
    int pw = w - left - right;
    int ph = h - top - bottom;
    List<double[]> all = new ArrayList<>();
    for (LearnedSweep.Point p : learned) all.add(new double[] {p.meanBytes(), p.metric()});
    for (Fixed f : fixed) all.add(new double[] {f.meanBytes(), f.metric()});
    double x0 = Math.log10(all.stream().mapToDouble(a -> a[0]).min().orElse(100) * 0.8);
    double x1 = Math.log10(Math.max(rawBytes, all.stream().mapToDouble(a -> a[0]).max().orElse(1000)) * 1.25);
    double y1 = 100 * Math.max(Double.isNaN(unsplit) ? 0 : unsplit, all.stream().mapToDouble(a -> a[1]).max().orElse(1)) + 0.5;
    double lowest = Math.max(0, 100 * Math.min(Double.isNaN(floor) ? 1 : floor, all.stream().mapToDouble(a -> a[1]).min().orElse(0)) - 1);
    // far-off codecs are left out, not squashed
    final double y0 = Double.isNaN(unsplit) ? lowest : Math.max(lowest, Math.floor(100 * unsplit - 12));
    final double yMin = y0 / 100;
    java.util.function.DoubleUnaryOperator px = v -> left + (Math.log10(v) - x0) / (x1 - x0) * pw;
    java.util.function.DoubleUnaryOperator py = v -> top + ph - (100 * v - y0) / (y1 - y0) * ph;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
      // grid: decades and 2, 5 on x (with bpp below), whole points on y
      for (int e = (int) Math.floor(x0); e <= Math.ceil(x1); e++) {
        for (int m : new int[] {1, 2, 5}) {
          double v = m * Math.pow(10, e);
          if (Math.log10(v) < x0 || Math.log10(v) > x1) continue;
          int x = (int) px.applyAsDouble(v);
          g.setColor(new Color(0xdddddd));
          g.drawLine(x, top, x, top + ph);
          g.setColor(Color.DARK_GRAY);
          String s = String.format(Locale.ROOT, "%,.0f", v);
          g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, top + ph + 18);
          String bpp = String.format(Locale.ROOT, "%.3g bpp", v * 8 / pixels);
          g.drawString(bpp, x - g.getFontMetrics().stringWidth(bpp) / 2, top + ph + 36);
        }
      }
      double step = (y1 - y0) > 12 ? 2 : 1;
      for (double y = Math.ceil(y0); y <= y1; y += step) {
        int yy = (int) py.applyAsDouble(y / 100);
        g.setColor(new Color(0xdddddd));
        g.drawLine(left, yy, left + pw, yy);
        g.setColor(Color.DARK_GRAY);
        String s = String.format(Locale.ROOT, "%.0f %%", y);
        g.drawString(s, left - 10 - g.getFontMetrics().stringWidth(s), yy + 5);
      }
      g.setColor(Color.BLACK);
      g.drawRect(left, top, pw, ph);
      float[] dash = {8f, 6f};
      g.setStroke(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, dash, 0f));
      if (!Double.isNaN(unsplit)) {
        g.setColor(new Color(0x228833));
        g.drawLine(left, (int) py.applyAsDouble(unsplit), left + pw, (int) py.applyAsDouble(unsplit));
      }
      if (!Double.isNaN(floor)) {
        g.setColor(new Color(0xcc3311));
        g.drawLine(left, (int) py.applyAsDouble(floor), left + pw, (int) py.applyAsDouble(floor));
      }
      for (int[] mark : new int[][] {{jpegBytes, 0x7733aa}, {rawBytes, 0x555555}}) {
        if (mark[0] <= 0) continue;
        g.setColor(new Color(mark[1]));
        int x = (int) px.applyAsDouble(mark[0]);
        g.drawLine(x, top, x, top + ph);
      }
      g.setStroke(new BasicStroke(2f));
      Color fixedC = new Color(0x0077bb);
      for (Fixed f : fixed) {
        if (f.metric() < yMin) continue;
        g.setColor(fixedC);
        double x = px.applyAsDouble(f.meanBytes());
        double y = py.applyAsDouble(f.metric());
        g.fill(new java.awt.geom.Rectangle2D.Double(x - 5, y - 5, 10, 10));
        g.setColor(Color.DARK_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(f.name(), (int) x + 8, (int) y + 4);
      }
      Color learnedC = new Color(0xee7733);
      List<LearnedSweep.Point> s = learned.stream().sorted(Comparator.comparingDouble(LearnedSweep.Point::meanBytes)).toList();
      g.setColor(learnedC);
      g.setStroke(new BasicStroke(3f));
      for (int k = 1; k < s.size(); k++) {
        g.draw(new Line2D.Double(px.applyAsDouble(s.get(k - 1).meanBytes()), py.applyAsDouble(s.get(k - 1).metric()),
            px.applyAsDouble(s.get(k).meanBytes()), py.applyAsDouble(s.get(k).metric())));
      }
      int nth = 0;
      for (LearnedSweep.Point p : s) {
        if (p.metric() < yMin) continue;
        double x = px.applyAsDouble(p.meanBytes());
        double y = py.applyAsDouble(p.metric());
        g.setColor(learnedC);
        g.fill(new Ellipse2D.Double(x - 7, y - 7, 14, 14));
        g.setColor(Color.DARK_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
        g.drawString(p.modelId(), (int) x - 40, (int) y + (nth++ % 2 == 0 ? -12 : 24));
      }
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
      g.drawString(title, left, 40);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
      String xl = "bytes per frame (whole FeatureFrame message, mean; log scale) and bits per pixel";
      g.drawString(xl, left + pw / 2 - g.getFontMetrics().stringWidth(xl) / 2, h - 50);
      Graphics2D gy = (Graphics2D) g.create();
      gy.rotate(-Math.PI / 2);
      gy.drawString(metric, -(top + ph / 2), 40);
      gy.dispose();
      int lx = left + pw + 25;
      int ly = top + 20;
      Object[][] legend = {{learnedC, "learned entropy bottleneck (v4, rANS)"}, {fixedC, "fixed-width codecs (v1/v2)"},
          {new Color(0x228833), "unsplit FP32"}, {new Color(0xcc3311), "unsplit − 1 pt"},
          {new Color(0x7733aa), String.format(Locale.ROOT, "JPEG q90 of the frame, %,d B", jpegBytes)},
          {new Color(0x555555), String.format(Locale.ROOT, "raw frame, %,d B", rawBytes)}};
      for (Object[] l : legend) {
        g.setColor((Color) l[0]);
        g.fillRect(lx, ly - 10, 24, 10);
        g.setColor(Color.BLACK);
        g.drawString((String) l[1], lx + 32, ly);
        ly += 24;
      }
    } finally {
      g.dispose();
    }
    ImageIO.write(img, "png", png.toFile());
  }
}

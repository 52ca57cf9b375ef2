package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.splitrt.codec.FeatureFrameException.Reason;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The learned codec (FeatureFrame v4): rANS round trips, strict decoding of malformed, truncated and forged frames. */
class LearnedCodecTest {

  /** The tables of feature-frame-v3.md's worked example (the exact text, so the table id matches the doc). */
  static final String DOC_TABLES = "{\"format\":\"splitrt-factorized-cdf\",\"version\":1,\"precision\":16,\"channels\":["
      + "{\"offset\":0.25,\"min_symbol\":-1,\"cdf\":[0,16384,49152,65536]},"
      + "{\"offset\":-0.5,\"min_symbol\":0,\"cdf\":[0,61440,65536]}]}\n";

  static EntropyTables tables(String json) throws IOException {
    return EntropyTables.parse(json.getBytes(StandardCharsets.US_ASCII), "test tables");
  }

  /** Random tables: per channel 1..max symbols with random (skewed) frequencies summing to 65536, each >= 1. */
  static String randomTables(Random r, int channels, int maxSymbols) {
    StringBuilder b = new StringBuilder("{\"format\":\"splitrt-factorized-cdf\",\"version\":1,\"precision\":16,\"channels\":[");
    for (int c = 0; c < channels; c++) {
      int n = 1 + r.nextInt(maxSymbols);
      double[] w = new double[n];
      double sum = 0;
      for (int j = 0; j < n; j++) {
        w[j] = Math.pow(r.nextDouble(), 6) + 1e-9;
        sum += w[j];
      }
      int[] f = new int[n];
      int total = 0;
      for (int j = 0; j < n; j++) {
        f[j] = Math.max(1, (int) (w[j] / sum * (65536 - n)));
        total += f[j];
      }
      int big = 0;
      for (int j = 1; j < n; j++) if (f[j] > f[big]) big = j;
      f[big] += 65536 - total;
      b.append(c == 0 ? "" : ",").append("{\"offset\":").append((float) r.nextGaussian()).append(",\"min_symbol\":")
          .append(-r.nextInt(n)).append(",\"cdf\":[0");
      int acc = 0;
      for (int j = 0; j < n; j++) b.append(',').append(acc += f[j]);
      b.append("]}");
    }
    return b.append("]}\n").toString();
  }

  static FrameHeader header(long seq) {
    byte[] sha = new byte[32];
    for (int i = 0; i < 32; i++) sha[i] = (byte) (i * 7);
    return new FrameHeader("jetson-nano-01", "fs-entropic-cls-l0p5", sha, seq, 1_700_000_000_000_000L + seq, 640, 480, seq % 3);
  }

  @Test
  void roundTripsRandomTablesShapesAndValues() throws Exception {
    Random r = new Random(15);
    for (int trial = 0; trial < 200; trial++) {
      int channels = 1 + r.nextInt(9);
      EntropyTables t = tables(randomTables(r, channels, trial % 3 == 0 ? 1024 : 40));
      int[] shape = trial % 4 == 0 ? new int[] {1, channels} : new int[] {1, channels, 1 + r.nextInt(9), 1 + r.nextInt(9)};
      int n = Shapes.elementCount(shape);
      float[] y = new float[n];
      for (int i = 0; i < n; i++) y[i] = (float) (r.nextGaussian() * (trial % 5 + 1) * 3);
      LearnedFeatureEncoder enc = new LearnedFeatureEncoder(t, shape);
      int[] sym = enc.symbols(FloatBuffer.wrap(y), header(trial));
      byte[] m = enc.encode(header(trial), FloatBuffer.wrap(y));
      LearnedFeatureFrame f = new LearnedFeatureDecoder(t, n).decode(m);
      assertThat(f.header()).isEqualTo(header(trial));
      assertThat(f.shape()).containsExactly(shape);
      assertThat(f.symbols()).as("trial %d", trial).containsExactly(sym);
      float[] back = new float[n];
      f.dequantizeInto(t, FloatBuffer.wrap(back));
      int inner = LearnedFeatureFrame.inner(shape);
      for (int i = 0; i < n; i++) {
        int c = (i / inner) % channels;
        float s = (float) Math.floor(y[i] - t.offset(c) + 0.5f);
        float lo = t.minSymbol(c);
        float hi = lo + t.symbols(c) - 1;
        float want = Math.max(lo, Math.min(hi, s)) + t.offset(c);
        assertThat(back[i]).as("trial %d element %d", trial, i).isEqualTo(want);
      }
      // the payload is within 4 + 1 bytes of the ideal code length (rANS is near-optimal)
      double bits = 0;
      for (int i = 0; i < n; i++) {
        int[] cdf = t.cdf((i / inner) % channels);
        bits += 16 - Math.log(cdf[sym[i] + 1] - cdf[sym[i]]) / Math.log(2);
      }
      int payload = m.length - LearnedFeatureDecoder.headerBytes(14, 20, shape.length) - 4;
      assertThat((double) payload).as("trial %d payload vs ideal %.1f bits", trial, bits).isBetween(bits / 8, bits / 8 + 6);
      assertThat(payload).isLessThanOrEqualTo((int) RansCoder.maxPayloadBytes(n));
    }
  }

  @Test
  void worstCaseSymbolsFitTheDeclaredBound() throws Exception {
    // one channel, symbol 1 has frequency 1/65536: 16 bits each, the bound 4 + 2n must hold
    EntropyTables t = tables("{\"format\":\"splitrt-factorized-cdf\",\"version\":1,\"precision\":16,\"channels\":["
        + "{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0,65535,65536]}]}");
    int n = 1000;
    int[] sym = new int[n];
    java.util.Arrays.fill(sym, 1);
    byte[] m = new LearnedFeatureEncoder(t, new int[] {1, 1, n}).frame(header(1), sym);
    int payload = m.length - LearnedFeatureDecoder.headerBytes(14, 20, 3) - 4;
    assertThat(payload).isBetween(2 * n, (int) RansCoder.maxPayloadBytes(n));
    assertThat(new LearnedFeatureDecoder(t, n).decode(m).symbols()).containsOnly(1);
  }

  @Test
  void nonFiniteInputIsRejectedAndTheEncoderStaysUsable() throws Exception {
    EntropyTables t = tables(DOC_TABLES);
    LearnedFeatureEncoder enc = new LearnedFeatureEncoder(t, new int[] {1, 2, 3});
    assertThatThrownBy(() -> enc.encode(header(3), FloatBuffer.wrap(new float[] {0, Float.NaN, 0, 0, 0, 0})))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element 1").hasMessageContaining("sequence 3");
    assertThat(new LearnedFeatureDecoder(t, 6).decode(enc.encode(header(4), FloatBuffer.wrap(new float[6]))).symbols())
        .hasSize(6);
    assertThatThrownBy(() -> new LearnedFeatureEncoder(t, new int[] {1, 3, 3})).hasMessageContaining("3 channels");
  }

  @Test
  void tablesAreValidatedOnLoad() {
    String ok = "{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0,65536]}";
    String pre = "{\"format\":\"splitrt-factorized-cdf\",\"version\":1,\"precision\":16,\"channels\":[";
    assertThatThrownBy(() -> tables(pre + "{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0,65535]}]}"))
        .hasMessageContaining("must run from 0 to 65536");
    assertThatThrownBy(() -> tables(pre + "{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0,9,9,65536]}]}"))
        .hasMessageContaining("frequency >= 1");
    assertThatThrownBy(() -> tables(pre + "]}")).hasMessageContaining("0 channels");
    assertThatThrownBy(() -> tables(pre.replace("16", "12") + ok + "]}")).hasMessageContaining("precision 12");
    assertThatThrownBy(() -> tables(pre.replace("factorized", "other") + ok + "]}")).hasMessageContaining("format");
    assertThatThrownBy(() -> tables(pre + "{\"offset\":1e40,\"min_symbol\":0,\"cdf\":[0,65536]}]}"))
        .hasMessageContaining("not finite");
    assertThatThrownBy(() -> tables(pre + ok + ",{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0,65536],\"x\":1}]}"))
        .hasMessageContaining("not a valid entropy table file");
    StringBuilder wide = new StringBuilder(pre + "{\"offset\":0.0,\"min_symbol\":0,\"cdf\":[0");
    for (int j = 1; j <= 1025; j++) wide.append(',').append(j == 1025 ? 65536 : j);
    assertThatThrownBy(() -> tables(wide + "]}]}")).hasMessageContaining("1..1024 symbols");
  }

  // ------------------------------------------------------------------ strict decoding

  private static byte[] valid(EntropyTables t) {
    return new LearnedFeatureEncoder(t, new int[] {1, 2, 3})
        .encode(header(7), FloatBuffer.wrap(new float[] {0.3f, -1f, 1.4f, -0.5f, 0.7f, 9f}));
  }

  private static void fixCrc(byte[] m) {
    CRC32C c = new CRC32C();
    c.update(m, 0, m.length - 4);
    Wire.putU32(m, m.length - 4, (int) c.getValue());
  }

  private static Reason reason(EntropyTables t, byte[] m) {
    FeatureFrameException e = catchThrowableOfType(() -> new LearnedFeatureDecoder(t, 6).decode(m), FeatureFrameException.class);
    assertThat(e).as("decoder must refuse").isNotNull();
    return e.reason();
  }

  /** Offset of the codec bytes (dtype) in the valid frame: 7 + D + 1 + M + 32 + 8 + 8 + 4. */
  private static final int CODEC = 7 + 14 + 1 + 20 + 32 + 24;

  @Test
  void everyForgedHeaderFieldIsRefusedWithItsReason() throws Exception {
    EntropyTables t = tables(DOC_TABLES);
    byte[] base = valid(t);
    assertThat(new LearnedFeatureDecoder(t, 6).decode(base).symbols()).containsExactly(1, 0, 2, 0, 1, 1);
    Object[][] cases = {
        {4, 1, Reason.UNSUPPORTED_VERSION}, {4, 2, Reason.UNSUPPORTED_VERSION}, {4, 3, Reason.UNSUPPORTED_VERSION},
        {4, 5, Reason.UNSUPPORTED_VERSION},
        {5, 1, Reason.BAD_HEADER}, {6, 0, Reason.BAD_HEADER},
        {CODEC, 2, Reason.BAD_HEADER}, {CODEC + 1, 8, Reason.BAD_HEADER}, {CODEC + 2, 1, Reason.BAD_HEADER},
        {CODEC + 3, 1, Reason.BAD_HEADER}, {CODEC + 4, 2, Reason.BAD_HEADER}, {CODEC + 5, 1, Reason.BAD_HEADER},
        {CODEC + 5, 9, Reason.BAD_HEADER},
        {CODEC + 6 + 8, 4, Reason.TOO_LARGE},            // dims[2] = 4: 8 elements > 6
        {CODEC + 6 + 8, 0, Reason.BAD_HEADER},           // dims[2] = 0
        {CODEC + 6 + 12, 0x55, Reason.BAD_HEADER},       // table id
        {CODEC + 6 + 16, 3, Reason.BAD_HEADER},          // payload length 3 < 4
        {CODEC + 6 + 16, 17, Reason.BAD_HEADER},         // payload length 17 > 4 + 2*6
        {8, (int) '/', Reason.BAD_HEADER},                     // device id charset
    };
    for (Object[] c : cases) {
      byte[] m = base.clone();
      m[(int) c[0]] = (byte) (int) c[1];
      fixCrc(m);
      assertThat(reason(t, m)).as("byte %s = %s", c[0], c[1]).isEqualTo(c[2]);
    }
    byte[] chans = base.clone();                      // dims [1, 3, 2]: 6 elements, but 3 channels for 2 tables
    chans[CODEC + 6 + 4] = 3;
    chans[CODEC + 6 + 8] = 2;
    fixCrc(chans);
    assertThat(catchThrowableOfType(() -> new LearnedFeatureDecoder(t, 6).decode(chans), FeatureFrameException.class))
        .hasMessageContaining("3 channels; the entropy tables have 2");
    byte[] magic = base.clone();
    magic[0] = 'X';
    assertThat(reason(t, magic)).isEqualTo(Reason.BAD_MAGIC);
    byte[] crc = base.clone();
    crc[crc.length - 5] ^= 1;
    assertThat(reason(t, crc)).isEqualTo(Reason.CRC_MISMATCH);
    byte[] longer = java.util.Arrays.copyOf(base, base.length + 1);
    assertThat(reason(t, longer)).isEqualTo(Reason.BAD_HEADER);
    // another model's tables (same shape, other table id)
    EntropyTables other = tables(DOC_TABLES.replace("0.25", "0.125"));
    assertThat(catchThrowableOfType(() -> new LearnedFeatureDecoder(other, 6).decode(base), FeatureFrameException.class))
        .hasMessageContaining("table id");
    // FeatureDecoder (v1..v3) does not misread a v4 frame
    assertThat(catchThrowableOfType(() -> new FeatureDecoder(6).decode(base), FeatureFrameException.class).reason())
        .isEqualTo(Reason.UNSUPPORTED_VERSION);
  }

  @Test
  void everyTruncationIsRefused() throws Exception {
    EntropyTables t = tables(DOC_TABLES);
    byte[] base = valid(t);
    for (int len = 0; len < base.length; len++) {
      byte[] m = java.util.Arrays.copyOf(base, len);
      Reason r = reason(t, m);
      assertThat(r).as("prefix of %d bytes", len).isIn(Reason.TRUNCATED, Reason.BAD_MAGIC);
    }
  }

  @Test
  void forgedPayloadsFailCleanlyOrDecodeToValidSymbols() throws Exception {
    Random r = new Random(3);
    EntropyTables t = tables(randomTables(r, 8, 30));
    int[] shape = {1, 8, 28, 28};
    int n = Shapes.elementCount(shape);
    float[] y = new float[n];
    for (int i = 0; i < n; i++) y[i] = (float) (r.nextGaussian() * 4);
    byte[] base = new LearnedFeatureEncoder(t, shape).encode(header(1), FloatBuffer.wrap(y));
    int payloadOff = LearnedFeatureDecoder.headerBytes(14, 20, 4);
    LearnedFeatureDecoder dec = new LearnedFeatureDecoder(t, n);
    int refused = 0;
    int trials = 3000;
    for (int k = 0; k < trials; k++) {
      byte[] m = base.clone();
      int flips = 1 + r.nextInt(3);
      for (int f = 0; f < flips; f++) {
        int at = payloadOff + r.nextInt(m.length - 4 - payloadOff);
        m[at] ^= (byte) (1 + r.nextInt(255));
      }
      fixCrc(m);             // a forger recomputes the CRC: only the rANS checks stand between them and the tail
      try {
        LearnedFeatureFrame f = dec.decode(m);
        for (int i = 0; i < n; i++) {
          assertThat(f.symbols()[i]).isBetween(0, t.symbols((i / 784) % 8) - 1);
        }
      } catch (FeatureFrameException e) {
        assertThat(e.reason()).isEqualTo(Reason.BAD_PAYLOAD);
        refused++;
      }
    }
    // the end-state check catches a corrupted payload with probability ~ 1 - 2^-23 per frame
    assertThat(refused).as("refused of %d forged payloads", trials).isEqualTo(trials);
    // a state below L or at/above 256 L
    byte[] low = base.clone();
    Wire.putU32(low, payloadOff, RansCoder.L - 1);
    fixCrc(low);
    assertThat(catchThrowableOfType(() -> dec.decode(low), FeatureFrameException.class)).hasMessageContaining("initial state");
  }

  @Test
  void randomBytesNeverEscapeAsAnythingButFeatureFrameException() throws Exception {
    Random r = new Random(99);
    EntropyTables t = tables(DOC_TABLES);
    byte[] base = valid(t);
    List<Reason> seen = new ArrayList<>();
    for (int k = 0; k < 20000; k++) {
      byte[] m = base.clone();
      int edits = 1 + r.nextInt(4);
      for (int e = 0; e < edits; e++) m[r.nextInt(m.length)] = (byte) r.nextInt(256);
      if (r.nextBoolean()) fixCrc(m);
      if (r.nextInt(10) == 0) m = java.util.Arrays.copyOf(m, r.nextInt(m.length + 8));
      try {
        new LearnedFeatureDecoder(t, 6).decode(m);
      } catch (FeatureFrameException e) {
        if (!seen.contains(e.reason())) seen.add(e.reason());
      }
    }
    assertThat(seen).contains(Reason.BAD_HEADER, Reason.CRC_MISMATCH, Reason.TRUNCATED, Reason.BAD_PAYLOAD);
  }
}

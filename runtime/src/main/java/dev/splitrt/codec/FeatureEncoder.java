package dev.splitrt.codec;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import java.lang.ref.Cleaner;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;
import java.util.zip.Deflater;

/**
 * Turns one head output into one FeatureFrame message ({@code runtime/docs/feature-frame-v2.md};
 * a codec that v1 can express is written as a v1 frame, byte for byte as
 * {@code feature-frame-v1.md} specifies, so older tails keep reading it). Built once per pipeline
 * thread for a fixed codec and shape so that the per-frame path allocates only the returned message:
 * ranges, parameters, packed codes, the compressor and the CRC are reused. Not thread-safe.
 *
 * <p>Non-finite input (NaN, +Inf, -Inf) is rejected with an {@link IllegalArgumentException} that
 * names the frame and the element; nothing is encoded and the encoder stays usable, so the edge can
 * count and drop the frame.
 */
public final class FeatureEncoder {
  /** zstd level: bottleneck payloads are a few KB, where level 19 costs well under a millisecond more than 3. */
  static final int ZSTD_LEVEL = 19;
  /** Lloyd iterations at most for the three-range k-means; 1-D k-means settles in far fewer. */
  static final int KMEANS_MAX_ITERATIONS = 64;
  private static final Cleaner CLEANER = Cleaner.create();

  private final CodecSpec spec;
  private final int[] shape;
  private final int elements;
  private final int groups;
  private final int paramCount;
  private final boolean threeRange;
  private final int outer;
  private final int inner;
  private final int packedBytes;
  private final int levels;
  private final int qmax;
  private final float[] lo;
  private final float[] hi;
  private final float[] scales;
  private final float[] zeroPoints;
  /** Three-range: codes per range, first code of each range, and the two cluster boundaries of each group. */
  private final int[] rangeLevels;
  private final int[] firstCode;
  private final double[] bound1;
  private final double[] bound2;
  /** Three-range work space for one group, reused: per range min, max, sum, count, codes, weights. */
  private final float[] rangeMin = new float[3];
  private final float[] rangeMax = new float[3];
  private final double[] rangeSum = new double[3];
  private final long[] rangeCount = new long[3];
  private final int[] share = new int[3];
  private final double[] weight = new double[3];
  private final double[] exact = new double[3];
  /** Three-range: a copy of one group's values for the median selection. */
  private final float[] work;
  private final CRC32C crc = new CRC32C();
  private final Deflater deflater;
  private final ZstdCompressCtx zstd;
  private final byte[] packed;
  private byte[] compressed;

  public FeatureEncoder(CodecSpec spec, int[] shape) {
    this.spec = Objects.requireNonNull(spec, "FeatureEncoder spec is null");
    String p = Shapes.problem(shape, spec.granularity());
    if (p != null) throw new IllegalArgumentException("FeatureEncoder: " + p);
    this.shape = shape.clone();
    this.elements = Shapes.elementCount(shape);
    this.groups = Shapes.groups(shape, spec.granularity());
    this.paramCount = Shapes.paramCount(shape, spec.granularity());
    this.threeRange = spec.granularity().ranges() == 3;
    this.outer = Shapes.outer(shape, spec.granularity());
    this.inner = Shapes.inner(shape, spec.granularity());
    long packedLong = Wire.packedBytes(elements, spec.bits());
    long maxMessage = packedLong + Wire.headerBytes(Wire.MAX_ID_BYTES, Wire.MAX_ID_BYTES, shape.length, paramCount,
        threeRange) + Wire.CRC_BYTES;
    if (maxMessage > Integer.MAX_VALUE - 64) {
      throw new IllegalArgumentException("FeatureEncoder: shape " + Arrays.toString(shape) + " at " + spec.bits()
          + " bits packs into " + packedLong + " bytes; a message must stay below 2 GiB");
    }
    this.packedBytes = (int) packedLong;
    this.levels = (1 << spec.bits()) - 1;
    this.qmax = (1 << (spec.bits() - 1)) - 1;
    this.lo = new float[groups];
    this.hi = new float[groups];
    this.scales = new float[paramCount];
    this.zeroPoints = new float[paramCount];
    this.rangeLevels = new int[threeRange ? paramCount : 0];
    this.firstCode = new int[threeRange ? paramCount : 0];
    this.bound1 = new double[threeRange ? groups : 0];
    this.bound2 = new double[threeRange ? groups : 0];
    this.work = new float[threeRange ? outer * inner : 0];
    if (spec.entropy() == Entropy.NONE) {
      this.deflater = null;
      this.zstd = null;
      this.packed = null;
    } else {
      this.packed = new byte[packedBytes];
      if (spec.entropy() == Entropy.DEFLATE) {
        this.deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, false);
        this.zstd = null;
        // zlib's compressBound plus slack: one stored pass never needs more.
        this.compressed = new byte[packedBytes + (packedBytes >> 12) + (packedBytes >> 14) + 64];
      } else {
        this.deflater = null;
        ZstdCompressCtx ctx = new ZstdCompressCtx();
        ctx.setLevel(ZSTD_LEVEL);
        ctx.setChecksum(false);   // the frame's CRC-32C covers the payload
        ctx.setContentSize(true); // decoders require the declared size (feature-frame-v2.md, section 5)
        ctx.setDictID(false);
        this.zstd = ctx;
        CLEANER.register(this, ctx::close); // the native context has no finalizer of its own
        this.compressed = new byte[(int) Math.min(Integer.MAX_VALUE - 64, Zstd.compressBound(packedBytes))];
      }
    }
  }

  /**
   * Quantizes {@code values[0..n)} (absolute reads; position and limit untouched, limit must be
   * at least n) and returns the whole message, CRC included.
   *
   * @throws IllegalArgumentException if a value is NaN or infinite, or the buffer is too short
   */
  public byte[] encode(FrameHeader header, FloatBuffer values) {
    Objects.requireNonNull(header, "FeatureEncoder.encode header is null");
    Objects.requireNonNull(values, "FeatureEncoder.encode values is null");
    if (values.limit() < elements) {
      throw new IllegalArgumentException("FeatureEncoder.encode: values has limit " + values.limit() + " but shape "
          + Arrays.toString(shape) + " needs " + elements + " floats");
    }
    measure(header, values);
    if (threeRange) {
      for (int g = 0; g < groups; g++) threeRangeParams(header, values, g);
    } else {
      computeParams(header);
    }

    int devLen = header.deviceId().length();
    int modelLen = header.modelId().length();
    int version = Wire.versionFor(spec, header.epoch());
    int headerBytes = Wire.headerBytes(version, devLen, modelLen, shape.length, paramCount, threeRange);
    byte[] out;
    int payloadLen;
    if (packed == null) {
      payloadLen = packedBytes;
      out = new byte[headerBytes + payloadLen + Wire.CRC_BYTES];
      pack(values, out, headerBytes);
    } else {
      pack(values, packed, 0);
      payloadLen = deflater != null ? deflate() : zstd.compressByteArray(compressed, 0, compressed.length, packed, 0,
          packedBytes);
      out = new byte[headerBytes + payloadLen + Wire.CRC_BYTES];
      System.arraycopy(compressed, 0, out, headerBytes, payloadLen);
    }
    writeHeader(out, header, version, payloadLen);
    int crcOff = headerBytes + payloadLen;
    crc.reset();
    crc.update(out, 0, crcOff);
    Wire.putU32(out, crcOff, (int) crc.getValue());
    return out;
  }

  /** Pass 1: per parameter group, min and max; rejects non-finite values. */
  private void measure(FrameHeader header, FloatBuffer values) {
    Arrays.fill(lo, Float.POSITIVE_INFINITY);
    Arrays.fill(hi, Float.NEGATIVE_INFINITY);
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int c = 0; c < groups; c++) {
        float mn = lo[c];
        float mx = hi[c];
        for (int end = i + inner; i < end; i++) {
          float v = values.get(i);
          if (!Float.isFinite(v)) throw nonFinite(header, i, v);
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        lo[c] = mn;
        hi[c] = mx;
      }
    }
  }

  private IllegalArgumentException nonFinite(FrameHeader h, int index, float v) {
    return new IllegalArgumentException("FeatureFrame device=" + h.deviceId() + " model=" + h.modelId() + " sequence="
        + Long.toUnsignedString(h.sequence()) + ": element " + index + " of shape " + Arrays.toString(shape) + " is "
        + v + "; the head produced a non-finite value, frame not encoded (check the head's precision/overflow)");
  }

  private IllegalArgumentException tooWide(FrameHeader h, float a, float b, int group) {
    return new IllegalArgumentException("FeatureFrame device=" + h.deviceId() + " model=" + h.modelId()
        + " sequence=" + Long.toUnsignedString(h.sequence()) + ": value range [" + a + ", " + b
        + "] of parameter group " + group + " is too wide for a float32 scale; frame not encoded");
  }

  private void computeParams(FrameHeader h) {
    for (int c = 0; c < paramCount; c++) {
      float scale;
      if (spec.symmetric()) {
        float maxAbs = Math.max(Math.abs(lo[c]), Math.abs(hi[c]));
        scale = maxAbs == 0f ? 1f : maxAbs / qmax;
        zeroPoints[c] = 0f;
      } else {
        scale = hi[c] == lo[c] ? 1f : (hi[c] - lo[c]) / levels;
        zeroPoints[c] = lo[c];
      }
      if (!Float.isFinite(scale)) throw tooWide(h, lo[c], hi[c], c);
      scales[c] = scale == 0f ? Float.MIN_VALUE : scale;
    }
  }

  /**
   * Three-range parameters of group {@code g}: 1-D k-means (k = 3; Lloyd's iterations from the
   * centres min, median, max, so the outer clusters start on the extremes) splits the values at the
   * midpoints between sorted centres; each cluster
   * becomes a range [min, max] with its own codes, scale and zero point: L codes cut the range into
   * L equal cells reconstructed at their centres (scale = width / L, zero point = min + scale / 2). Codes are shared out as
   * high-resolution quantization theory suggests for a density that is flat inside each range:
   * in proportion to {@code width^(2/3) * count^(1/3)}, at least one per non-empty range, exactly one
   * for a range of a single value (reconstructed exactly) and none for an empty range.
   */
  private void threeRangeParams(FrameHeader h, FloatBuffer values, int g) {
    int m = 0;
    for (int b = 0; b < outer; b++) {
      for (int i = (b * groups + g) * inner, end = i + inner; i < end; i++) work[m++] = values.get(i);
    }
    double c0 = lo[g];
    double c1 = select(work, m, m / 2);
    double c2 = hi[g];
    double t1 = 0;
    double t2 = 0;
    long n0 = 0;
    long n1 = 0;
    long n2 = 0;
    for (int it = 0; it < KMEANS_MAX_ITERATIONS; it++) {
      t1 = (c0 + c1) / 2;
      t2 = (c1 + c2) / 2;
      double s0 = 0;
      double s1 = 0;
      double s2 = 0;
      n0 = 0;
      n1 = 0;
      n2 = 0;
      for (int b = 0; b < outer; b++) {
        for (int i = (b * groups + g) * inner, end = i + inner; i < end; i++) {
          float v = values.get(i);
          if (v < t1) {
            s0 += v;
            n0++;
          } else if (v <= t2) {
            s1 += v;
            n1++;
          } else {
            s2 += v;
            n2++;
          }
        }
      }
      double d0 = n0 > 0 ? s0 / n0 : c0;
      double d1 = n1 > 0 ? s1 / n1 : c1;
      double d2 = n2 > 0 ? s2 / n2 : c2;
      boolean settled = d0 == c0 && d1 == c1 && d2 == c2;
      c0 = d0;
      c1 = d1;
      c2 = d2;
      if (settled) break;
    }
    // The assignment used for the ranges and, in pass 2, for the codes: the boundaries of the last step.
    bound1[g] = t1;
    bound2[g] = t2;
    float[] mn = rangeMin;
    float[] mx = rangeMax;
    double[] sum = rangeSum;
    long[] count = rangeCount;
    Arrays.fill(mn, Float.POSITIVE_INFINITY);
    Arrays.fill(mx, Float.NEGATIVE_INFINITY);
    Arrays.fill(sum, 0);
    Arrays.fill(count, 0);
    for (int b = 0; b < outer; b++) {
      for (int i = (b * groups + g) * inner, end = i + inner; i < end; i++) {
        float v = values.get(i);
        int r = v < t1 ? 0 : v <= t2 ? 1 : 2;
        if (v < mn[r]) mn[r] = v;
        if (v > mx[r]) mx[r] = v;
        sum[r] += v;
        count[r]++;
      }
    }
    int total = 1 << spec.bits();
    allocate(total);
    int first = 0;
    for (int r = 0; r < 3; r++) {
      int k = 3 * g + r;
      rangeLevels[k] = share[r];
      firstCode[k] = first;
      first += share[r];
      float scale = 1f;
      float zero = 0f;
      if (share[r] == 1) {
        zero = (float) (sum[r] / count[r]);
      } else if (share[r] > 1) {
        zero = mn[r];
        if (mx[r] > mn[r]) {
          // Mid-rise: L cells of equal width over [min, max], each reconstructed at its centre.
          scale = (float) (((double) mx[r] - mn[r]) / share[r]);
          if (!Float.isFinite(scale)) throw tooWide(h, mn[r], mx[r], g);
          if (scale == 0f) scale = Float.MIN_VALUE;
          zero = (float) (mn[r] + scale / 2.0);
        }
      }
      scales[k] = scale;
      zeroPoints[k] = zero;
    }
  }

  /** The k-th smallest of {@code a[0..n)} (Hoare's quickselect, reorders {@code a}; deterministic middle pivot). */
  static float select(float[] a, int n, int k) {
    int left = 0;
    int right = n - 1;
    while (left < right) {
      float pivot = a[(left + right) >>> 1];
      int i = left;
      int j = right;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) {
          float t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) {
        right = j;
      } else if (k >= i) {
        left = i;
      } else {
        return a[k];
      }
    }
    return a[k];
  }

  /** Codes per range, summing to {@code total}; see {@link #threeRangeParams}. Ties go to the lower range. */
  private void allocate(int total) {
    float[] mn = rangeMin;
    float[] mx = rangeMax;
    long[] count = rangeCount;
    Arrays.fill(share, 0);
    Arrays.fill(weight, 0);
    double weightSum = 0;
    int free = total;
    for (int r = 0; r < 3; r++) {
      if (count[r] == 0) continue;
      share[r] = 1;
      free--;
      if (mx[r] > mn[r]) {
        weight[r] = Math.cbrt(((double) mx[r] - mn[r]) * ((double) mx[r] - mn[r]) * count[r]);
        weightSum += weight[r];
      }
    }
    if (weightSum == 0) {
      // At most three distinct values: one code each is exact; park the spare codes on the first range.
      for (int r = 0; r < 3; r++) {
        if (count[r] > 0) {
          share[r] += free;
          break;
        }
      }
      return;
    }
    int given = 0;
    for (int r = 0; r < 3; r++) {
      exact[r] = free * weight[r] / weightSum;
      int extra = (int) Math.floor(exact[r]);
      share[r] += extra;
      given += extra;
    }
    while (given < free) {
      int best = -1;
      for (int r = 0; r < 3; r++) {
        if (weight[r] == 0) continue;
        double rem = exact[r] - Math.floor(exact[r]);
        if (best < 0 || rem > exact[best] - Math.floor(exact[best])) best = r;
      }
      share[best]++;
      exact[best] = Math.floor(exact[best]); // remainder used up
      given++;
    }
  }

  /** Pass 2: quantize and pack LSB-first into {@code dst[off..off+packedBytes)}. */
  private void pack(FloatBuffer values, byte[] dst, int off) {
    final int bits = spec.bits();
    final boolean sym = spec.symmetric();
    int acc = 0;
    int accBits = 0;
    int p = off;
    int i = 0;
    for (int b = 0; b < outer; b++) {
      for (int c = 0; c < groups; c++) {
        for (int end = i + inner; i < end; i++) {
          int q;
          if (threeRange) {
            float v = values.get(i);
            int k = 3 * c + (v < bound1[c] ? 0 : v <= bound2[c] ? 1 : 2);
            int n = rangeLevels[k];
            if (n <= 1) {
              q = firstCode[k];
            } else {
              q = (int) Math.floor((v - zeroPoints[k]) / scales[k] + 0.5f);
              q = firstCode[k] + (q < 0 ? 0 : Math.min(q, n - 1));
            }
          } else if (sym) {
            q = (int) Math.floor(values.get(i) / scales[c] + 0.5f);
            q = (q < -qmax ? -qmax : Math.min(q, qmax)) + qmax;
          } else {
            q = (int) Math.floor((values.get(i) - zeroPoints[c]) / scales[c] + 0.5f);
            q = q < 0 ? 0 : Math.min(q, levels);
          }
          acc |= q << accBits;
          accBits += bits;
          if (accBits >= 8) {
            dst[p++] = (byte) acc;
            acc >>>= 8;
            accBits -= 8;
          }
        }
      }
    }
    if (accBits > 0) dst[p] = (byte) acc;
  }

  private int deflate() {
    deflater.reset();
    deflater.setInput(packed, 0, packedBytes);
    deflater.finish();
    int len = 0;
    while (!deflater.finished()) {
      if (len == compressed.length) compressed = Arrays.copyOf(compressed, compressed.length * 2);
      len += deflater.deflate(compressed, len, compressed.length - len);
    }
    return len;
  }

  private void writeHeader(byte[] out, FrameHeader h, int version, int payloadLen) {
    System.arraycopy(Wire.MAGIC, 0, out, 0, 4);
    out[4] = (byte) version;
    out[5] = 0; // flags: reserved
    int p = 6;
    p = putId(out, p, h.deviceId());
    p = putId(out, p, h.modelId());
    // The record copies the hash on construction; the accessor returns that copy without allocating.
    System.arraycopy(h.headSha256(), 0, out, p, Wire.HASH_BYTES);
    p += Wire.HASH_BYTES;
    Wire.putU64(out, p, h.sequence());
    p += 8;
    if (version >= Wire.VERSION_3) {
      Wire.putU32(out, p, (int) h.epoch());
      p += Wire.EPOCH_BYTES;
    }
    Wire.putU64(out, p, h.captureEpochMicros());
    p -= 8;
    Wire.putU16(out, p + 16, h.sourceWidth());
    Wire.putU16(out, p + 18, h.sourceHeight());
    p += 20;
    out[p++] = (byte) Wire.DTYPE_FLOAT32;
    out[p++] = (byte) spec.bits();
    out[p++] = (byte) Wire.granularityId(spec.granularity());
    out[p++] = (byte) (spec.symmetric() ? 1 : 0);
    out[p++] = (byte) Wire.entropyId(spec.entropy());
    out[p++] = (byte) shape.length;
    for (int d : shape) {
      Wire.putU32(out, p, d);
      p += 4;
    }
    Wire.putU32(out, p, paramCount);
    p += 4;
    for (int c = 0; c < paramCount; c++) {
      Wire.putF32(out, p, scales[c]);
      Wire.putF32(out, p + 4, zeroPoints[c]);
      p += 8;
    }
    if (threeRange) {
      for (int c = 0; c < paramCount; c++) {
        Wire.putU16(out, p, rangeLevels[c]);
        p += 2;
      }
    }
    Wire.putU32(out, p, payloadLen);
  }

  /** Ids are validated ASCII by {@link FrameHeader}: one byte per char, no encoder allocation. */
  private static int putId(byte[] out, int p, String id) {
    out[p++] = (byte) id.length();
    for (int k = 0; k < id.length(); k++) out[p++] = (byte) id.charAt(k);
    return p;
  }
}

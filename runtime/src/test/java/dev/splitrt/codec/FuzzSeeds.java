package dev.splitrt.codec;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelException;
import dev.splitrt.model.ModelRegistry;
import dev.splitrt.tail.TailRunner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import java.util.zip.Deflater;

/**
 * The seed corpora of {@link FeatureDecoderFuzzTest} and {@link ChunkAssemblyFuzzTest}, and the bounds
 * both fuzzers share, from the zoo (models/). Seeds are <i>real</i> frames: the committed reference
 * head outputs ({@code models/<id>/reference/head_<k>.f32}) encoded with each codec family and
 * version the decoders read, and <i>hostile</i> ones, each built to hit one documented refusal (the
 * reason is part of its name; {@link FuzzSeedsTest} checks every seed still does what its name says).
 *
 * <p>The seed files are committed under {@code src/test/resources/dev/splitrt/codec/*FuzzTestInputs/}
 * (where Jazzer reads them in regression and fuzzing mode). Regenerate them after a wire-format change:
 * <pre>
 * mvn -o -q -pl runtime test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java -cp runtime/target/test-classes:runtime/target/classes:$(cat /tmp/cp.txt) -Dsplitrt.repo=$PWD \
 *     dev.splitrt.codec.FuzzSeeds runtime/src/test/resources
 * </pre>
 */
final class FuzzSeeds {
  static final String DEVICE = "jetson-nano-01";
  /** The learned (v4) decoder knows one model's tables, as a tail does: those of this model. */
  static final String LEARNED_MODEL = "fs-entropic-cls-l1";
  static final Path DECODER_SEEDS = Path.of("dev", "splitrt", "codec", "FeatureDecoderFuzzTestInputs", "decode");
  static final Path CHUNK_SEEDS = Path.of("dev", "splitrt", "codec", "ChunkAssemblyFuzzTestInputs", "assemble");

  /** Chunk fuzz records: op byte bits. */
  static final int OP_REPAIR_CRC = 1;
  static final int OP_EXPIRE_FIRST = 2;
  /** Bits 2-3: one of four topics. */
  static final int OP_TOPIC_SHIFT = 2;

  private FuzzSeeds() {}

  static Path repo() {
    String repo = System.getProperty("splitrt.repo");
    if (repo == null) throw new IllegalStateException("system property splitrt.repo is not set (Maven sets it; see runtime/pom.xml)");
    return Path.of(repo);
  }

  /** Every model of the zoo, loaded and checked as a tail loads them. */
  static List<LoadedModel> zoo() {
    ModelRegistry r = new ModelRegistry(repo().resolve("models"));
    List<LoadedModel> out = new ArrayList<>();
    try {
      for (String id : r.ids()) out.add(r.load(id));
    } catch (ModelException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    return out;
  }

  static LoadedModel model(List<LoadedModel> zoo, String id) {
    return zoo.stream().filter(m -> m.manifest().id().equals(id)).findFirst()
        .orElseThrow(() -> new IllegalStateException("model " + id + " is not in " + repo().resolve("models")));
  }

  /** The decoders' {@code maxElements}, as {@code TailRunner} sets it: the largest tail input of the models served. */
  static int maxElements(List<LoadedModel> zoo) {
    int max = 1;
    for (LoadedModel m : zoo) max = Math.max(max, m.manifest().tail().input().elementCount());
    return max;
  }

  /** The reassembly's largest frame, as {@code TailRunner} sets it (feature-chunk-v1.md rule 1). */
  static long maxFrameBytes(List<LoadedModel> zoo) {
    return TailRunner.maxFeaturePacketBytes(zoo);
  }

  static float[] head(LoadedModel m, int k) {
    try {
      byte[] b = Files.readAllBytes(m.dir().resolve("reference").resolve("head_" + k + ".f32"));
      float[] x = new float[b.length / 4];
      ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(x);
      return x;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] encode(LoadedModel m, int k, CodecSpec spec, long epoch) {
    int[] shape = m.manifest().tail().input().dims();
    FrameHeader h = new FrameHeader(DEVICE, m.manifest().id(), m.headSha256(), 1000 + k, 1_764_000_000_000_000L + k,
        1280, 720, epoch);
    return new FeatureEncoder(spec, shape).encode(h, FloatBuffer.wrap(head(m, k)));
  }

  static byte[] encodeLearned(LoadedModel m, int k, long epoch) {
    int[] shape = m.manifest().tail().input().dims();
    FrameHeader h = new FrameHeader(DEVICE, m.manifest().id(), m.headSha256(), 2000 + k, 1_764_000_000_000_000L + k,
        1280, 720, epoch);
    try {
      return new LearnedFeatureEncoder(m.entropyTables(), shape).encode(h, FloatBuffer.wrap(head(m, k)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A real frame of a small and a large model per codec family and version; names say model, codec and version. */
  static Map<String, byte[]> realFrames(List<LoadedModel> zoo) {
    LoadedModel cls = model(zoo, "fs-bottlefit-cls");
    LoadedModel det = model(zoo, "fs-leyolo-nano-det");
    LoadedModel learned = model(zoo, LEARNED_MODEL);
    Map<String, byte[]> out = new LinkedHashMap<>();
    out.put("real-fs-bottlefit-cls-8b-per-tensor-none-v1",
        encode(cls, 0, new CodecSpec(8, Granularity.PER_TENSOR, false, Entropy.NONE), 0));
    out.put("real-fs-bottlefit-cls-4b-per-channel-sym-deflate-v1",
        encode(cls, 1, new CodecSpec(4, Granularity.PER_CHANNEL, true, Entropy.DEFLATE), 0));
    out.put("real-fs-bottlefit-cls-6b-three-range-zstd-v2",
        encode(cls, 2, new CodecSpec(6, Granularity.THREE_RANGE, false, Entropy.ZSTD), 0));
    out.put("real-fs-bottlefit-cls-2b-three-range-per-channel-deflate-v3",
        encode(cls, 3, new CodecSpec(2, Granularity.THREE_RANGE_PER_CHANNEL, false, Entropy.DEFLATE), 5));
    out.put("real-fs-leyolo-nano-det-manifest-codec-v3", encode(det, 0, CodecSpec.of(det.manifest().bottleneck().codec()), 9));
    out.put("real-fs-leyolo-nano-det-8b-per-channel-none-v1",
        encode(det, 1, new CodecSpec(8, Granularity.PER_CHANNEL, false, Entropy.NONE), 0));
    out.put("real-" + LEARNED_MODEL + "-learned-v4", encodeLearned(learned, 0, 2));
    out.put("real-" + LEARNED_MODEL + "-learned-no-epoch-v4", encodeLearned(learned, 0, 0));
    return out;
  }

  /** The decoder seeds: real frames and hostile ones ({@code hostile-<reason>-<what>}). */
  static Map<String, byte[]> decoderSeeds(List<LoadedModel> zoo) {
    Map<String, byte[]> real = realFrames(zoo);
    Map<String, byte[]> out = new LinkedHashMap<>(real);
    int maxElements = maxElements(zoo);
    byte[] v1 = real.get("real-fs-bottlefit-cls-8b-per-tensor-none-v1");

    out.put("hostile-bad_magic-a-chunk-given-to-the-decoder", FeatureChunks.split(v1, 1024).get(0));
    out.put("hostile-truncated-half-a-frame", Arrays.copyOf(v1, v1.length / 2));
    byte[] flipped = v1.clone();
    flipped[v1.length / 2] ^= 0x10;
    out.put("hostile-crc_mismatch-one-payload-bit-flipped", flipped);
    Forge f = new Forge();
    f.version = 9;
    out.put("hostile-unsupported_version-9", f.bytes());
    f = new Forge();
    f.dims = new long[] {0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL, 0xFFFFFFFFL};
    out.put("hostile-too_large-dims-overflow-64-bits", f.bytes());
    f = new Forge();
    f.dims = new long[] {1, 1, maxElements + 1L};
    out.put("hostile-too_large-one-element-over-max-elements", f.bytes());
    f = new Forge();
    f.paramCount = 0xFFFFFFFFL;
    out.put("hostile-bad_header-parameter-count-4g", f.bytes());
    f = new Forge();
    f.entropy = 1;
    f.payloadLength = 0xFFFFFFF0L;
    out.put("hostile-truncated-deflate-payload-length-4g", f.bytes());
    f = new Forge();
    f.trailing = new byte[16];
    out.put("hostile-bad_header-trailing-bytes", f.bytes());
    f = new Forge();
    f.granularity = 1;
    f.dims = new long[] {4};
    out.put("hostile-bad_header-per-channel-rank-1", f.bytes());
    f = new Forge();
    f.params = new float[] {Float.NaN, 0f};
    out.put("hostile-bad_header-nan-scale", f.bytes());
    f = new Forge();
    f.entropy = 2;
    f.payload = Zstd.compress(new byte[] {0, 1, 2, 3});
    out.put("hostile-bad_header-zstd-in-a-v1-frame", f.bytes());
    f = new Forge();
    f.bits = 2;
    f.dims = new long[] {1, 1, 3};
    f.payload = new byte[] {(byte) 0xC0};
    out.put("hostile-bad_payload-padding-bits-set", f.bytes());

    // Bombs: the shape is legal (maxElements at 8 bits), the stream would produce far more.
    long[] big = {1, 1, maxElements};
    f = new Forge();
    f.entropy = 1;
    f.dims = big;
    f.payload = zlib(new byte[64 * maxElements]);
    out.put("hostile-bad_payload-deflate-bomb", f.bytes());
    f = new Forge();
    f.version = 2;
    f.entropy = 2;
    f.dims = big;
    try (ZstdCompressCtx z = new ZstdCompressCtx()) {
      f.payload = z.setContentSize(false).compress(new byte[maxElements]);
    }
    out.put("hostile-bad_payload-zstd-without-content-size", f.bytes());
    f = new Forge();
    f.version = 2;
    f.entropy = 2;
    f.dims = big;
    f.payload = Zstd.compress(new byte[64 * maxElements]);
    out.put("hostile-bad_payload-zstd-bomb-declaring-64x", f.bytes());

    // v4: a real learned frame whose rANS stream is corrupted under a repaired CRC.
    byte[] v4 = real.get("real-" + LEARNED_MODEL + "-learned-v4").clone();
    v4[v4.length - 40] ^= 0x5A;
    out.put("hostile-bad_payload-v4-rans-stream-corrupted", repairFrameCrc(v4));
    return out;
  }

  /** One chunk fuzz record: op, u16 length, the chunk message. */
  static void record(ByteArrayOutputStream out, int op, byte[] chunk) {
    out.write(op);
    out.write(chunk.length & 0xFF);
    out.write(chunk.length >>> 8);
    out.write(chunk, 0, chunk.length);
  }

  static byte[] records(int op, List<byte[]> chunks) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] c : chunks) record(out, op, c);
    return out.toByteArray();
  }

  /** The chunk seeds: real chunk sets split from real frames, in and out of order, and hostile sets. */
  static Map<String, byte[]> chunkSeeds(List<LoadedModel> zoo) {
    Map<String, byte[]> real = realFrames(zoo);
    byte[] cls = real.get("real-fs-bottlefit-cls-8b-per-tensor-none-v1");
    byte[] det = real.get("real-fs-leyolo-nano-det-manifest-codec-v3");
    byte[] learned = real.get("real-" + LEARNED_MODEL + "-learned-v4");
    Map<String, byte[]> out = new LinkedHashMap<>();
    out.put("real-fs-bottlefit-cls-v1-in-order", records(0, FeatureChunks.split(cls, 1024)));
    List<byte[]> rev = new ArrayList<>(FeatureChunks.split(det, 512));
    Collections.reverse(rev);
    rev.add(1, rev.get(0));
    out.put("real-fs-leyolo-nano-det-v3-reversed-with-a-duplicate", records(0, rev));
    out.put("real-" + LEARNED_MODEL + "-v4-one-chunk", records(0, FeatureChunks.split(learned, 1 << 16)));
    ByteArrayOutputStream two = new ByteArrayOutputStream();
    List<byte[]> a = FeatureChunks.split(cls, 2048);
    List<byte[]> b = FeatureChunks.split(learned, 300);
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      if (i < a.size()) record(two, 0, a.get(i));
      if (i < b.size()) record(two, 1 << OP_TOPIC_SHIFT, b.get(i));
    }
    out.put("real-two-topics-interleaved", two.toByteArray());

    List<byte[]> cut = FeatureChunks.split(cls, 1024);
    ByteArrayOutputStream late = new ByteArrayOutputStream();
    for (int i = 0; i < cut.size(); i++) record(late, i == cut.size() / 2 ? OP_EXPIRE_FIRST : 0, cut.get(i));
    out.put("hostile-chunk_timeout-half-a-set-then-expiry", late.toByteArray());

    List<byte[]> inc = new ArrayList<>(FeatureChunks.split(cls, 1024));
    byte[] wrongTotal = inc.get(1).clone();
    ByteBuffer.wrap(wrongTotal).order(ByteOrder.LITTLE_ENDIAN).putInt(20, cls.length + 1);
    inc.set(1, wrongTotal);
    out.put("hostile-chunk_inconsistent-total-changed", records(OP_REPAIR_CRC, inc));

    byte[] huge = FeatureChunks.split(cls, 1024).get(0).clone();
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0xFFFFFFFF);
    out.put("hostile-chunk_too_large-total-4g", records(OP_REPAIR_CRC, List.of(huge)));

    ByteArrayOutputStream full = new ByteArrayOutputStream();
    for (int s = 0; s < 12; s++) {
      byte[] first = FeatureChunks.split(cls, 1024).get(0).clone();
      ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).putLong(12, 0x5E7L + s);
      record(full, OP_REPAIR_CRC, first);
    }
    out.put("hostile-reassembly_full-many-open-sets", full.toByteArray());

    List<byte[]> overlap = new ArrayList<>(FeatureChunks.split(cls, 1024));
    byte[] moved = overlap.get(1).clone();
    ByteBuffer.wrap(moved).order(ByteOrder.LITTLE_ENDIAN).putInt(24, 0);
    overlap.set(1, moved);
    out.put("hostile-frame_crc_mismatch-overlapping-offsets", records(OP_REPAIR_CRC, overlap));

    List<byte[]> bad = new ArrayList<>(FeatureChunks.split(cls, 1024));
    byte[] corrupt = bad.get(2).clone();
    corrupt[100] ^= 1;
    bad.set(2, corrupt);
    out.put("hostile-chunk_crc_mismatch-one-bit-flipped", records(0, bad));
    return out;
  }

  /** Rewrites the last four bytes as the CRC-32C of the rest (FeatureFrame and chunk alike end so). */
  static byte[] repairFrameCrc(byte[] m) {
    if (m.length < 4) return m;
    CRC32C c = new CRC32C();
    c.update(m, 0, m.length - 4);
    ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putInt(m.length - 4, (int) c.getValue());
    return m;
  }

  static byte[] zlib(byte[] data) {
    Deflater d = new Deflater(9);
    d.setInput(data);
    d.finish();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    while (!d.finished()) out.write(buf, 0, d.deflate(buf));
    d.end();
    return out.toByteArray();
  }

  static void write(Path dir, Map<String, byte[]> seeds) throws IOException {
    Files.createDirectories(dir);
    try (var old = Files.list(dir)) {
      for (Path p : old.toList()) Files.delete(p);
    }
    for (Map.Entry<String, byte[]> e : seeds.entrySet()) Files.write(dir.resolve(e.getKey()), e.getValue());
  }

  /** Writes both seed folders under the given test-resources root (usually runtime/src/test/resources). */
  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: FuzzSeeds <test resources folder, e.g. runtime/src/test/resources>");
      System.exit(2);
    }
    Path root = Path.of(args[0]);
    List<LoadedModel> zoo = zoo();
    write(root.resolve(DECODER_SEEDS), decoderSeeds(zoo));
    write(root.resolve(CHUNK_SEEDS), chunkSeeds(zoo));
    System.out.println("wrote " + root.resolve(DECODER_SEEDS) + " and " + root.resolve(CHUNK_SEEDS));
  }
}

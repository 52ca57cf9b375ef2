package dev.splitrt.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The chunk assembler alone (no broker): reassembly, and every bound and check of feature-chunk-v1.md. */
class FeatureChunksTest {
  private static final String TOPIC = "splitrt/v1/f/cam/features/m";
  private static final long SECOND = 1_000_000_000L;

  private static byte[] frame(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static FeatureChunks.Assembler assembler(long maxBytes, int maxSets) {
    return new FeatureChunks.Assembler(maxBytes, maxSets, 1 << 20, 30 * SECOND);
  }

  private static String reason(FeatureChunks.Assembler a, byte[] chunk) {
    try {
      a.accept(TOPIC, chunk, 0);
      return "accepted";
    } catch (FeatureChunks.ChunkException e) {
      return e.reason();
    }
  }

  @Test
  void chunksInAnyOrderWithDuplicatesRebuildTheFrame() throws Exception {
    byte[] f = frame(6_404, 1);
    List<byte[]> parts = FeatureChunks.split(f, 2_000);
    assertThat(parts).hasSize(4).allSatisfy(p -> assertThat(p.length).isLessThanOrEqualTo(2_000));
    FeatureChunks.Assembler a = assembler(1 << 20, 4);
    assertThat(a.accept(TOPIC, parts.get(3), 0)).isEmpty();
    assertThat(a.accept(TOPIC, parts.get(1), 0)).isEmpty();
    assertThat(a.accept(TOPIC, parts.get(1), 0)).as("a QoS 1 duplicate is ignored").isEmpty();
    assertThat(a.accept(TOPIC, parts.get(0), 0)).isEmpty();
    assertThat(a.bytesOpen()).isEqualTo(f.length);
    Optional<byte[]> whole = a.accept(TOPIC, parts.get(2), 0);
    assertThat(whole).hasValueSatisfying(w -> assertThat(w).isEqualTo(f));
    assertThat(a.setsOpen()).isZero();
    assertThat(a.bytesOpen()).isZero();
  }

  @Test
  void aResentFrameFormsTheSameSet() {
    byte[] f = frame(5_000, 2);
    assertThat(FeatureChunks.split(f, 1_000)).usingElementComparator(java.util.Arrays::compare)
        .containsExactlyElementsOf(FeatureChunks.split(f, 1_000));
  }

  /** Like a FeatureFrame: a body followed by its CRC32C, little-endian. */
  private static byte[] selfChecked(int n, long seed) {
    byte[] f = frame(n, seed);
    java.nio.ByteBuffer.wrap(f).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(n - 4, FeatureChunks.crc(f, 0, n - 4));
    return f;
  }

  @Test
  void framesEndingWithTheirOwnCrcOfOneLengthGetDistinctSetsAndInterleavedChunksRebuildEach() throws Exception {
    byte[] a = selfChecked(6_400, 1);
    byte[] b = selfChecked(6_400, 2);
    // The trap: the CRC32C of such a frame is the residue, the same for both.
    assertThat(FeatureChunks.crc(a, 0, a.length)).isEqualTo(FeatureChunks.crc(b, 0, b.length)).isEqualTo(0x48674bc7);
    assertThat(FeatureChunks.setId(a)).isNotEqualTo(FeatureChunks.setId(b));
    List<byte[]> pa = FeatureChunks.split(a, 2_000);
    List<byte[]> pb = FeatureChunks.split(b, 2_000);
    FeatureChunks.Assembler asm = assembler(1 << 20, 4);
    List<byte[]> done = new java.util.ArrayList<>();
    for (int i = 0; i < pa.size(); i++) {
      asm.accept(TOPIC, pa.get(i), 0).ifPresent(done::add);
      asm.accept(TOPIC, pb.get(i), 0).ifPresent(done::add);
    }
    assertThat(done).hasSize(2);
    assertThat(done.get(0)).isEqualTo(a);
    assertThat(done.get(1)).isEqualTo(b);
  }

  @Test
  void theSetBoundRefusesAnotherSetAsReassemblyFull() throws Exception {
    FeatureChunks.Assembler a = assembler(1 << 20, 2);
    assertThat(reason(a, FeatureChunks.split(frame(3_000, 1), 1_000).get(0))).isEqualTo("accepted");
    assertThat(reason(a, FeatureChunks.split(frame(3_000, 2), 1_000).get(0))).isEqualTo("accepted");
    List<byte[]> third = FeatureChunks.split(frame(3_000, 3), 1_000);
    assertThat(reason(a, third.get(0))).isEqualTo("reassembly_full");
    assertThat(a.setsOpen()).isEqualTo(2);
    assertThat(a.bytesOpen()).as("nothing allocated for the refused set").isEqualTo(6_000);
  }

  @Test
  void theByteBoundRefusesASetWhoseFrameWouldNotFit() throws Exception {
    FeatureChunks.Assembler a = assembler(10_000, 100);
    assertThat(reason(a, FeatureChunks.split(frame(6_000, 1), 1_000).get(0))).isEqualTo("accepted");
    assertThat(reason(a, FeatureChunks.split(frame(4_001, 2), 1_000).get(0))).isEqualTo("reassembly_full");
    assertThat(reason(a, FeatureChunks.split(frame(4_000, 3), 1_000).get(0))).as("exactly at the bound").isEqualTo("accepted");
    assertThat(a.bytesOpen()).isEqualTo(10_000);
  }

  @Test
  void aFrameLargerThanTheLargestLegalFrameIsRefusedBeforeAllocating() {
    FeatureChunks.Assembler a = new FeatureChunks.Assembler(1 << 30, 10, 4_096, 30 * SECOND);
    assertThat(reason(a, FeatureChunks.split(frame(4_097, 1), 1_000).get(0))).isEqualTo("chunk_too_large");
    assertThat(a.setsOpen()).isZero();
  }

  @Test
  void anIncompleteSetExpiresAfterTheTimeoutAndFreesItsBytes() throws Exception {
    FeatureChunks.Assembler a = new FeatureChunks.Assembler(1 << 20, 4, 1 << 20, 5 * SECOND);
    List<byte[]> parts = FeatureChunks.split(frame(3_000, 1), 1_000);
    a.accept(TOPIC, parts.get(0), 0);
    a.accept(TOPIC, parts.get(2), SECOND);
    assertThat(a.expire(5 * SECOND)).as("not yet: the clock runs from the first chunk").isEmpty();
    List<FeatureChunks.Expired> gone = a.expire(5 * SECOND + 1);
    assertThat(gone).hasSize(1);
    assertThat(gone.get(0).topic()).isEqualTo(TOPIC);
    assertThat(gone.get(0).received()).isEqualTo(2);
    assertThat(gone.get(0).count()).isEqualTo(parts.size());
    assertThat(gone.get(0).totalBytes()).isEqualTo(3_000);
    assertThat(a.bytesOpen()).isZero();
    assertThat(a.setsOpen()).isZero();
  }

  @Test
  void damagedAndInconsistentChunksAreRefusedWithTheirReason() throws Exception {
    List<byte[]> parts = FeatureChunks.split(frame(3_000, 1), 1_000);
    FeatureChunks.Assembler a = assembler(1 << 20, 4);
    byte[] flipped = parts.get(0).clone();
    flipped[40] ^= 1;
    assertThat(reason(a, flipped)).isEqualTo("chunk_crc_mismatch");
    assertThat(reason(a, java.util.Arrays.copyOf(parts.get(0), 20))).isEqualTo("chunk_truncated");
    // Same set id and topic, but another frame CRC: inconsistent with the set the first chunk opened.
    a.accept(TOPIC, parts.get(0), 0);
    byte[] other = reCrc(parts.get(1), 28, 0x12345678);
    assertThat(reason(a, other)).isEqualTo("chunk_inconsistent");
    byte[] badVersion = reCrc(parts.get(1), 4, 2);
    assertThat(reason(a, badVersion)).isEqualTo("chunk_bad_header");
  }

  @Test
  void chunksThatDoNotRebuildTheirFrameAreRefusedAsFrameCrcMismatch() throws Exception {
    byte[] f = frame(2_000, 1);
    List<byte[]> parts = FeatureChunks.split(f, 1_036); // 1,000 data bytes each: two chunks
    assertThat(parts).hasSize(2);
    byte[] forged = parts.get(1).clone();
    forged[FeatureChunks.HEADER_BYTES] ^= 1; // data changed, chunk CRC fixed up: only the frame CRC can tell
    forged = reCrc(forged, -1, 0);
    FeatureChunks.Assembler a = assembler(1 << 20, 4);
    a.accept(TOPIC, parts.get(0), 0);
    assertThat(reason(a, forged)).isEqualTo("frame_crc_mismatch");
    assertThat(a.setsOpen()).isZero();
  }

  /** Writes {@code value} (a byte at 4, a u32 elsewhere; offset -1: nothing) and fixes the chunk's own CRC. */
  private static byte[] reCrc(byte[] chunk, int offset, int value) {
    byte[] c = chunk.clone();
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    if (offset == 4) {
      c[4] = (byte) value;
    } else if (offset >= 0) {
      b.putInt(offset, value);
    }
    b.putInt(c.length - 4, FeatureChunks.crc(c, 0, c.length - 4));
    return c;
  }
}

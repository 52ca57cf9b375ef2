package dev.splitrt.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.splitrt.codec.FeatureChunks.Assembler;
import dev.splitrt.codec.FeatureChunks.ChunkException;
import dev.splitrt.model.LoadedModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of chunk reassembly ({@link FeatureChunks.Assembler},
 * runtime/docs/feature-chunk-v1.md) the way a tail meets it. An input is a sequence of records
 * {@code op (u8), length (u16 LE), chunk message}: op bit 0 rewrites the chunk's last four bytes as the
 * CRC-32C of the rest (so mutations get past the chunk CRC into the reassembly rules), bit 1 first moves
 * the clock past the chunk timeout and expires, bits 2-3 pick one of four topics; each record also moves
 * the clock 1 ms. A fresh assembler takes each input, with the tail's largest legal frame
 * ({@code TailRunner.maxFeaturePacketBytes} of the zoo) and small set and byte limits so that
 * {@code reassembly_full} is within reach.
 *
 * <p>Checked on every chunk: the only exception is {@link ChunkException}; the open sets stay within
 * the set and byte limits; a completed frame is within the largest legal frame and has the CRC-32C its
 * chunks declared, and goes on to the decoder as in the tail (which may only refuse it with a
 * {@link FeatureFrameException}); the bytes allocated by one {@code accept} stay within {@link #bound}.
 * After the last record every set expires and the assembler holds nothing. A hang is libFuzzer's
 * per-input timeout (10 s, set in the {@code fuzz} profile of runtime/pom.xml).
 */
class ChunkAssemblyFuzzTest {
  private static final List<LoadedModel> ZOO = FuzzSeeds.zoo();
  static final long MAX_FRAME_BYTES = FuzzSeeds.maxFrameBytes(ZOO);
  static final int MAX_SETS = 4;
  static final long MAX_BYTES = 2 * MAX_FRAME_BYTES;
  static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
  private static final String[] TOPICS = {"splitrt/v1/fleet-a/cam-1/features/fs-bottlefit-cls",
      "splitrt/v1/fleet-a/cam-2/features/fs-leyolo-nano-det", "splitrt/v1/fleet-a/cam-1/features/fs-entropic-cls-l1",
      "splitrt/v1/fleet-b/cam-3/features/fs-bottlefit-cls"};
  private static final FeatureDecoder DECODER = new FeatureDecoder(FuzzSeeds.maxElements(ZOO));
  private static final FuzzRun RUN = new FuzzRun("FeatureChunks.Assembler, largest frame " + MAX_FRAME_BYTES + " bytes, "
      + MAX_SETS + " sets, " + MAX_BYTES + " bytes");

  static {
    // One-time class loading and native set-up (zstd, refusal messages) before anything is measured.
    for (byte[] seed : FuzzSeeds.chunkSeeds(ZOO).values()) {
      for (int k = 0; k < 3; k++) run(seed, false, new ArrayList<>());
    }
  }

  /**
   * What one {@code accept} may allocate, from feature-chunk-v1.md: nothing before the rule-1 checks;
   * a chunk that opens a set allocates that set's frame ({@code total}, at most the largest legal frame)
   * and its received-chunk bitmap (one bit per declared chunk, {@code count ≤ 65,535}, with BitSet's
   * doubling growth: {@code 2 · ceil(count/64) · 8} bytes); plus {@link FuzzRun#FIXED_BYTES}. A chunk
   * adds no copy of itself: its data goes straight into the set's frame.
   */
  static long bound(byte[] chunk) {
    long declared = 0;
    if (chunk.length >= FeatureChunks.OVERHEAD_BYTES) {
      ByteBuffer b = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
      long total = b.getInt(20) & 0xFFFFFFFFL;
      int count = b.getShort(8) & 0xFFFF;
      declared = Math.min(total, MAX_FRAME_BYTES) + 2L * ((count + 63) / 64) * 8;
    }
    return declared + FuzzRun.FIXED_BYTES;
  }

  @FuzzTest(maxExecutions = FuzzRun.CI_EXECUTIONS, maxDuration = "15m")
  void assemble(byte[] input) {
    RUN.input(input);
    // Twice, and only the second run measured: the first takes Jazzer's one-time costs for the paths this
    // input reaches (instrumenting classes as they load, growing its coverage map), no assembler allocation.
    run(input, false, new ArrayList<>());
    List<String> outcomes = new ArrayList<>();
    run(input, true, outcomes);
    for (String o : outcomes) RUN.outcome(o);
  }

  /**
   * Plays one input's records into a fresh assembler, checking as the class comment says; adds each
   * chunk's outcome (a refusal reason, "held", "frame" and the decoder's verdict, "chunk_timeout") to
   * {@code outcomes}. {@code measure}: check each accept's allocation against {@link #bound}.
   */
  static void run(byte[] input, boolean measure, List<String> outcomes) {
    Assembler a = new Assembler(MAX_BYTES, MAX_SETS, MAX_FRAME_BYTES, TIMEOUT_NANOS);
    long now = 0;
    int p = 0;
    while (p < input.length) {
      int op = input[p] & 0xFF;
      int len = p + 2 < input.length ? (input[p + 1] & 0xFF) | (input[p + 2] & 0xFF) << 8 : 0;
      int from = Math.min(p + 3, input.length);
      byte[] chunk = Arrays.copyOfRange(input, from, Math.min(from + len, input.length));
      p = from + len;
      if ((op & FuzzSeeds.OP_REPAIR_CRC) != 0) FuzzSeeds.repairFrameCrc(chunk);
      if ((op & FuzzSeeds.OP_EXPIRE_FIRST) != 0) {
        now += TIMEOUT_NANOS + 1;
        int open = a.setsOpen();
        int expired = a.expire(now).size();
        for (int k = 0; k < expired; k++) outcomes.add("chunk_timeout");
        if (expired != open || a.setsOpen() != 0 || a.bytesOpen() != 0) {
          throw new AssertionError("expiry after the timeout dropped " + expired + " of " + open + " sets and left "
              + a.setsOpen() + " sets, " + a.bytesOpen() + " bytes open");
        }
      }
      String topic = TOPICS[(op >>> FuzzSeeds.OP_TOPIC_SHIFT) & 3];
      String outcome;
      Optional<byte[]> frame = Optional.empty();
      long before = FuzzRun.allocated();
      try {
        frame = a.accept(topic, chunk, now);
        outcome = frame.isPresent() ? "frame" : "held";
      } catch (ChunkException e) {
        outcome = e.reason();
      }
      long used = FuzzRun.allocated() - before;
      if (measure) RUN.allocation("Assembler.accept", used, bound(chunk), chunk);
      outcomes.add(outcome);
      if (a.setsOpen() > MAX_SETS || a.bytesOpen() < 0 || a.bytesOpen() > MAX_BYTES) {
        throw new AssertionError("after a chunk the assembler holds " + a.setsOpen() + " sets and " + a.bytesOpen()
            + " bytes; the limits are " + MAX_SETS + " sets and " + MAX_BYTES + " bytes");
      }
      if (frame.isPresent()) outcomes.add(frameIsWhatTheChunksDeclared(frame.get(), chunk));
      now += TimeUnit.MILLISECONDS.toNanos(1);
    }
    a.expire(now + TIMEOUT_NANOS + 1);
    if (a.setsOpen() != 0 || a.bytesOpen() != 0) {
      throw new AssertionError("after every set timed out the assembler still holds " + a.setsOpen() + " sets, "
          + a.bytesOpen() + " bytes");
    }
  }

  private static String frameIsWhatTheChunksDeclared(byte[] frame, byte[] last) {
    ByteBuffer b = ByteBuffer.wrap(last).order(ByteOrder.LITTLE_ENDIAN);
    long total = b.getInt(20) & 0xFFFFFFFFL;
    if (frame.length != total || frame.length > MAX_FRAME_BYTES || FeatureChunks.crc(frame, 0, frame.length) != b.getInt(28)) {
      throw new AssertionError("reassembled a frame of " + frame.length + " bytes whose CRC-32C is not the declared one (declared "
          + total + " bytes; largest legal frame " + MAX_FRAME_BYTES + ")");
    }
    try {
      DECODER.decode(frame);
      return "frame decoded";
    } catch (FeatureFrameException e) {
      return "frame " + e.reason().name();
    }
  }

  @AfterAll
  static void ranEveryInputItShould() {
    RUN.finish(ChunkAssemblyFuzzTest.class, "assemble");
  }
}

package dev.splitrt.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.splitrt.model.LoadedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the strict FeatureFrame decoders the way a tail meets them: every
 * input goes to {@link FeatureDecoder} (versions 1 to 3) and {@link LearnedFeatureDecoder} (version 4)
 * as it is, and again with its last four bytes rewritten as the CRC-32C of the rest, so mutations get
 * past the CRC into the value and payload rules. For each decode: the only exception allowed is
 * {@link FeatureFrameException} (anything else is a Jazzer finding), a decoded frame must dequantize
 * without one, no input may run past libFuzzer's per-input timeout (10 s, set in the {@code fuzz}
 * profile of runtime/pom.xml), and the bytes allocated must stay within {@link #bound}.
 *
 * <p>Without {@code JAZZER_FUZZ} (every {@code mvn test}) this replays the committed seeds; the
 * {@code fuzz} profile of runtime/pom.xml runs it fuzzing, in its own JVM, for
 * {@value FuzzRun#CI_EXECUTIONS} executions ({@code JAZZER_MAX_EXECUTIONS} overrides).
 */
class FeatureDecoderFuzzTest {
  private static final List<LoadedModel> ZOO = FuzzSeeds.zoo();
  static final int MAX_ELEMENTS = FuzzSeeds.maxElements(ZOO);
  private static final FeatureDecoder DECODER = new FeatureDecoder(MAX_ELEMENTS);
  private static final EntropyTables TABLES = tables();
  private static final LearnedFeatureDecoder LEARNED = new LearnedFeatureDecoder(TABLES, MAX_ELEMENTS);
  private static final FloatBuffer OUT = FloatBuffer.allocate(MAX_ELEMENTS);
  private static final FuzzRun RUN = new FuzzRun("FeatureDecoder v1-v3, LearnedFeatureDecoder v4, maxElements " + MAX_ELEMENTS);

  static {
    warmUp();
  }

  private static EntropyTables tables() {
    try {
      return FuzzSeeds.model(ZOO, FuzzSeeds.LEARNED_MODEL).entropyTables();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Decodes every seed a few times, unmeasured, before any input is measured: the first zstd frame loads
   * the native library, the first refusal of each kind loads its classes, and in fuzzing mode Jazzer
   * instruments each class as it loads (tens of MB at first); one-time costs charged to this thread that
   * are no input's doing.
   */
  private static void warmUp() {
    for (byte[] m : FuzzSeeds.decoderSeeds(ZOO).values()) {
      for (int k = 0; k < 3; k++) {
        decodeBoth(m, false);
        decodeBoth(FuzzSeeds.repairFrameCrc(m.clone()), false);
      }
    }
  }

  /**
   * What one decode may allocate, from the decoder rules (feature-frame-v2.md §7, v4 §7): nothing
   * proportional to a declared size before the framing and CRC checks; after them the unpacked payload,
   * bounded by {@code maxElements} ({@code ceil(N·bits/8) ≤ maxElements} bytes at 8 bits; v4: {@code N}
   * int symbols, 4 bytes each), and the fields copied out of the message itself (ids, hash, a raw
   * payload, parameters as float/int arrays: 12 bytes of arrays per 10 wire bytes), together at most
   * twice the message; plus {@link FuzzRun#FIXED_BYTES}.
   */
  static long bound(byte[] m, boolean learned) {
    long unpacked = learned ? 4L * MAX_ELEMENTS : Wire.packedBytes(MAX_ELEMENTS, 8);
    return unpacked + 2L * m.length + FuzzRun.FIXED_BYTES;
  }

  @FuzzTest(maxExecutions = FuzzRun.CI_EXECUTIONS, maxDuration = "15m")
  void decode(byte[] input) {
    RUN.input(input);
    // Each decode runs twice and only the second is measured: the first takes Jazzer's own one-time costs
    // for the paths this input reaches (instrumenting classes as they load, growing its coverage map on
    // new edges), which are charged to this thread but are no decoder allocation.
    decodeBoth(input, false);
    for (String outcome : decodeBoth(input, true)) RUN.outcome(outcome);
    if (input.length >= 4) {
      byte[] repaired = FuzzSeeds.repairFrameCrc(input.clone());
      decodeBoth(repaired, false);
      for (String outcome : decodeBoth(repaired, true)) RUN.outcome("crc-repaired " + outcome);
    }
  }

  /** Both decoders, each measured against its bound when {@code measure}; returns their outcomes (a reason or "ok v<version>"). */
  private static String[] decodeBoth(byte[] m, boolean measure) {
    String plain;
    long before = FuzzRun.allocated();
    try {
      FeatureFrame f = DECODER.decode(m);
      OUT.clear().limit(f.elementCount());
      f.dequantizeInto(OUT);
      plain = "ok v" + m[4];
    } catch (FeatureFrameException e) {
      plain = e.reason().name();
    }
    if (measure) RUN.allocation("FeatureDecoder", FuzzRun.allocated() - before, bound(m, false), m);
    String learned;
    before = FuzzRun.allocated();
    try {
      LearnedFeatureFrame f = LEARNED.decode(m);
      OUT.clear().limit(f.elementCount());
      f.dequantizeInto(TABLES, OUT);
      learned = "ok v4";
    } catch (FeatureFrameException e) {
      learned = e.reason().name();
    }
    if (measure) RUN.allocation("LearnedFeatureDecoder", FuzzRun.allocated() - before, bound(m, true), m);
    return new String[] {"v1-v3 " + plain, "v4 " + learned};
  }

  @AfterAll
  static void ranEveryInputItShould() {
    RUN.finish(FeatureDecoderFuzzTest.class, "decode");
  }
}

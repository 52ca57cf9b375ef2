package dev.splitrt.spool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.spool.Spool.Entry;
import dev.splitrt.spool.Spool.Key;
import dev.splitrt.spool.Spool.Outcome;
import dev.splitrt.spool.SpoolSettings.FullPolicy;
import dev.splitrt.spool.SpoolSettings.Fsync;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spool without a broker: framing, recovery from torn and corrupt records, rollover, bounds, expiry. */
class SpoolTest {
  private static final String TOPIC = "splitrt/v1/demo/cam-1/features/m";
  @TempDir Path tmp;

  private SpoolSettings settings(Path dir, long maxBytes, long segmentBytes, FullPolicy policy) {
    return new SpoolSettings(dir, maxBytes, segmentBytes, Duration.ofMinutes(10), Fsync.ALWAYS, Duration.ofMillis(50),
        policy);
  }

  private static byte[] message(long seq, int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) b[i] = (byte) (seq * 31 + i);
    return b;
  }

  private static List<Long> liveSequences(Spool s) {
    List<Long> out = new ArrayList<>();
    s.forEachLive(e -> out.add(e.key.sequence()));
    return out;
  }

  private static List<Path> segments(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith("seg-")).sorted().toList();
    }
  }

  @Test
  void unansweredFeaturesSurviveARestartInOrderAndAnsweredOnesDoNot() throws Exception {
    Path dir = tmp.resolve("s");
    try (Spool s = Spool.open(settings(dir, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
      assertThat(s.epoch()).isEqualTo(1);
      for (long q = 0; q < 10; q++) s.append(q, TOPIC, 1_000 + q, message(q, 300 + (int) q));
      assertThat(s.finish(new Key(1, 3), Outcome.ANSWERED)).isTrue();
      assertThat(s.finish(new Key(1, 3), Outcome.ANSWERED)).as("second result for 3 is a duplicate").isFalse();
      assertThat(s.finish(new Key(1, 7), Outcome.EXPIRED_MAX_AGE)).isTrue();
    }
    try (Spool s = Spool.open(settings(dir, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
      assertThat(s.epoch()).as("every start takes a new epoch").isEqualTo(2);
      assertThat(s.recovery().tornRecords() + s.recovery().corruptRecords()).isZero();
      assertThat(liveSequences(s)).containsExactly(0L, 1L, 2L, 4L, 5L, 6L, 8L, 9L);
      for (long q : liveSequences(s)) {
        Entry e = s.get(new Key(1, q));
        assertThat(e.topic).isEqualTo(TOPIC);
        assertThat(e.captureMicros).isEqualTo(1_000 + q);
        assertThat(s.read(e)).as("bytes of sequence %d", q).isEqualTo(message(q, 300 + (int) q));
      }
      s.append(0, TOPIC, 5, message(0, 10));
      assertThat(s.get(new Key(2, 0))).as("epoch 2 sequence 0 does not collide with epoch 1 sequence 0").isNotNull();
      assertThat(s.get(new Key(1, 0))).isNotNull();
    }
  }

  @Test
  void aLastRecordTornAtEveryByteOffsetIsCutAndCounted() throws Exception {
    Path dir = tmp.resolve("base");
    long lastStart;
    try (Spool s = Spool.open(settings(dir, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
      for (long q = 0; q < 4; q++) s.append(q, TOPIC, q, message(q, 200));
    }
    Path seg = segments(dir).get(0);
    long full = Files.size(seg);
    int record = Spool.HEADER_BYTES + Spool.FEATURE_FIXED + TOPIC.length() + 200;
    lastStart = full - record;
    for (long cut = lastStart; cut < full; cut++) {
      Path copy = tmp.resolve("cut-" + cut);
      Files.createDirectories(copy);
      Files.copy(dir.resolve(BootEpoch.FILE), copy.resolve(BootEpoch.FILE));
      Path c = copy.resolve(seg.getFileName());
      Files.copy(seg, c);
      try (RandomAccessFile f = new RandomAccessFile(c.toFile(), "rw")) {
        f.setLength(cut);
      }
      try (Spool s = Spool.open(settings(copy, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
        assertThat(liveSequences(s)).as("cut at byte %d", cut).containsExactly(0L, 1L, 2L);
        assertThat(s.recovery().tornRecords()).as("cut at byte %d", cut).isEqualTo(cut == lastStart ? 0 : 1);
        assertThat(s.recovery().bytesCut()).isEqualTo(cut - lastStart);
        assertThat(Files.size(c)).as("torn bytes removed from the file").isEqualTo(lastStart);
        for (long q = 0; q < 3; q++) assertThat(s.read(s.get(new Key(1, q)))).isEqualTo(message(q, 200));
      }
    }
  }

  @Test
  void aCorruptRecordIsCutWithEverythingAfterItInItsSegment() throws Exception {
    Path dir = tmp.resolve("s");
    try (Spool s = Spool.open(settings(dir, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
      for (long q = 0; q < 5; q++) s.append(q, TOPIC, q, message(q, 100));
    }
    Path seg = segments(dir).get(0);
    int record = Spool.HEADER_BYTES + Spool.FEATURE_FIXED + TOPIC.length() + 100;
    for (int flipAt : new int[] {2 * record + Spool.HEADER_BYTES + 40, 2 * record + 5, 2 * record + 8, 2 * record}) {
      Path copy = tmp.resolve("flip-" + flipAt);
      Files.createDirectories(copy);
      Path c = copy.resolve(seg.getFileName());
      Files.copy(seg, c);
      try (RandomAccessFile f = new RandomAccessFile(c.toFile(), "rw")) {
        f.seek(flipAt);
        int b = f.read();
        f.seek(flipAt);
        f.write(b ^ 0x10);
      }
      try (Spool s = Spool.open(settings(copy, 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
        assertThat(liveSequences(s)).as("byte %d flipped", flipAt).containsExactly(0L, 1L);
        assertThat(s.recovery().corruptRecords() + s.recovery().tornRecords()).as("byte %d flipped", flipAt).isEqualTo(1);
        assertThat(s.recovery().bytesCut()).isEqualTo(3L * record);
      }
    }
  }

  @Test
  void segmentsRollOverAndAreDeletedOnceEveryFeatureInThemHasAnOutcome() throws Exception {
    Path dir = tmp.resolve("s");
    try (Spool s = Spool.open(settings(dir, 1 << 20, 4096, FullPolicy.BLOCK))) {
      for (long q = 0; q < 40; q++) s.append(q, TOPIC, q, message(q, 900));
      assertThat(segments(dir).size()).as("900-byte features in 4 KiB segments").isGreaterThanOrEqualTo(10);
      // Answer all but the first: nothing can be deleted while the oldest segment holds an unanswered feature.
      for (long q = 1; q < 40; q++) s.finish(new Key(1, q), Outcome.ANSWERED);
      assertThat(segments(dir).size()).isGreaterThanOrEqualTo(10);
      s.finish(new Key(1, 0), Outcome.ANSWERED);
      assertThat(segments(dir)).as("only the segment being written is left").hasSize(1);
      assertThat(s.liveCount()).isZero();
    }
    try (Spool s = Spool.open(settings(dir, 1 << 20, 4096, FullPolicy.BLOCK))) {
      assertThat(s.liveCount()).isZero();
    }
  }

  @Test
  void anOutcomeInALaterSegmentStillCountsAfterARestart() throws Exception {
    Path dir = tmp.resolve("s");
    try (Spool s = Spool.open(settings(dir, 1 << 20, 4096, FullPolicy.BLOCK))) {
      for (long q = 0; q < 12; q++) s.append(q, TOPIC, q, message(q, 900));
      s.finish(new Key(1, 2), Outcome.ANSWERED);
      s.finish(new Key(1, 11), Outcome.ANSWERED);
    }
    try (Spool s = Spool.open(settings(dir, 1 << 20, 4096, FullPolicy.BLOCK))) {
      assertThat(liveSequences(s)).containsExactly(0L, 1L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    }
  }

  @Test
  void aFullSpoolBlocksUntilAnswersFreeRoom() throws Exception {
    Path dir = tmp.resolve("s");
    try (Spool s = Spool.open(settings(dir, 8192, 4096, FullPolicy.BLOCK))) {
      long q = 0;
      while (s.bytes() + 1000 <= 8192) s.append(q, TOPIC, q, message(q++, 900));
      long blocked = q;
      CompletableFuture<Entry> f = CompletableFuture.supplyAsync(() -> {
        try {
          return s.append(blocked, TOPIC, blocked, message(blocked, 900));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      Thread.sleep(300);
      assertThat(f).as("append waits while the spool is full").isNotDone();
      assertThat(s.bytes()).isLessThanOrEqualTo(8192);
      for (long k = 0; k < blocked; k++) s.finish(new Key(1, k), Outcome.ANSWERED);
      assertThat(f.get(5, TimeUnit.SECONDS).key).isEqualTo(new Key(1, blocked));
      assertThat(s.bytes()).isLessThanOrEqualTo(8192);
    }
  }

  @Test
  void dropOldestExpiresTheOldestSegmentCountedWithItsReason() throws Exception {
    Path dir = tmp.resolve("s");
    List<Entry> expired = new ArrayList<>();
    try (Spool s = Spool.open(settings(dir, 8192, 4096, FullPolicy.DROP_OLDEST))) {
      s.onExpired((e, why) -> {
        assertThat(why).isEqualTo(Outcome.EXPIRED_SPOOL_FULL);
        expired.add(e);
      });
      for (long q = 0; q < 30; q++) {
        s.append(q, TOPIC, q, message(q, 900));
        assertThat(s.bytes()).as("after append %d", q).isLessThanOrEqualTo(8192);
      }
      List<Long> left = liveSequences(s);
      List<Long> gone = expired.stream().map(e -> e.key.sequence()).toList();
      assertThat(gone).isNotEmpty();
      List<Long> all = new ArrayList<>(gone);
      all.addAll(left);
      assertThat(all).as("every accepted feature is either still live or expired, each once, oldest first")
          .containsExactlyElementsOf(java.util.stream.LongStream.range(0, 30).boxed().toList());
    }
  }

  @Test
  void featuresOlderThanMaxAgeExpire() throws Exception {
    Path dir = tmp.resolve("s");
    List<Entry> expired = new ArrayList<>();
    try (Spool s = Spool.open(new SpoolSettings(dir, 1 << 20, 64 << 10, Duration.ofSeconds(10), Fsync.NEVER,
        Duration.ofMillis(50), FullPolicy.BLOCK))) {
      s.onExpired((e, why) -> {
        assertThat(why).isEqualTo(Outcome.EXPIRED_MAX_AGE);
        expired.add(e);
      });
      long now = 100_000_000L;
      s.append(0, TOPIC, now - 11_000_000, message(0, 10));
      s.append(1, TOPIC, now - 9_000_000, message(1, 10));
      assertThat(s.expireOld(now)).isEqualTo(1);
      assertThat(expired).extracting(e -> e.key.sequence()).containsExactly(0L);
      assertThat(liveSequences(s)).containsExactly(1L);
    }
    try (Spool s = Spool.open(SpoolSettings.defaults(dir))) {
      assertThat(liveSequences(s)).as("the expiry is durable").containsExactly(1L);
    }
  }

  @Test
  void aDamagedEpochFileIsRefusedNotGuessed() throws Exception {
    Path dir = tmp.resolve("s");
    Spool.open(SpoolSettings.defaults(dir)).close();
    Files.write(dir.resolve(BootEpoch.FILE), new byte[] {1, 0, 0, 0, 0, 0, 0, 0});
    assertThatThrownBy(() -> Spool.open(SpoolSettings.defaults(dir))).isInstanceOf(IOException.class)
        .hasMessageContaining("damaged");
  }

  @Test
  void fsyncPoliciesForceAsDocumented() throws Exception {
    try (Spool s = Spool.open(settings(tmp.resolve("a"), 1 << 20, 64 << 10, FullPolicy.BLOCK))) {
      for (long q = 0; q < 5; q++) s.append(q, TOPIC, q, message(q, 100));
      assertThat(s.fsyncs()).as("always: one force per feature").isEqualTo(5);
    }
    try (Spool s = Spool.open(new SpoolSettings(tmp.resolve("n"), 1 << 20, 64 << 10, Duration.ofMinutes(1),
        Fsync.NEVER, Duration.ofMillis(50), FullPolicy.BLOCK))) {
      for (long q = 0; q < 5; q++) s.append(q, TOPIC, q, message(q, 100));
      assertThat(s.fsyncs()).isZero();
    }
    try (Spool s = Spool.open(new SpoolSettings(tmp.resolve("i"), 1 << 20, 64 << 10, Duration.ofMinutes(1),
        Fsync.INTERVAL, Duration.ofMillis(20), FullPolicy.BLOCK))) {
      for (long q = 0; q < 5; q++) s.append(q, TOPIC, q, message(q, 100));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (s.fsyncs() == 0 && System.nanoTime() < deadline) Thread.sleep(10);
      assertThat(s.fsyncs()).as("interval: the flusher forced the group").isBetween(1L, 5L);
    }
  }
}

package dev.splitrt.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.splitrt.codec.FrameHeader;
import dev.splitrt.infer.InferenceException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The tail's idempotency key is {@code (device, epoch, model, sequence)} (delivery.md §2). */
class ResultCacheTest {
  private static final byte[] HEAD = new byte[32];
  private final AtomicInteger computed = new AtomicInteger();
  private final ResultCache cache = new ResultCache(16);

  private static FrameHeader header(String device, long epoch, String model, long sequence, long captureMicros) {
    return new FrameHeader(device, model, HEAD, sequence, captureMicros, 640, 480, epoch);
  }

  private ResultCache.Answer answer(FrameHeader h) throws Exception {
    return cache.answer(ResultCache.Key.of(h), () -> {
      int n = computed.incrementAndGet();
      return ("result " + n).getBytes(StandardCharsets.UTF_8);
    });
  }

  private static String text(ResultCache.Answer a) {
    return new String(a.json(), StandardCharsets.UTF_8);
  }

  @Test
  void sameSequenceInAnotherEpochIsComputedAgain() throws Exception {
    ResultCache.Answer first = answer(header("cam-1", 1, "m", 0, 1_000));
    ResultCache.Answer second = answer(header("cam-1", 2, "m", 0, 1_000));
    assertThat(computed).hasValue(2);
    assertThat(first.repeated()).isFalse();
    assertThat(second.repeated()).isFalse();
    assertThat(text(second)).isEqualTo("result 2");
  }

  @Test
  void sameIdentityIsAnsweredFromTheCacheWithoutComputing() throws Exception {
    ResultCache.Answer first = answer(header("cam-1", 3, "m", 41, 1_000));
    // A resend from the spool carries the same bytes; even a different capture time is the same feature.
    ResultCache.Answer again = answer(header("cam-1", 3, "m", 41, 1_000));
    ResultCache.Answer other = answer(header("cam-1", 3, "m", 41, 2_000));
    assertThat(computed).hasValue(1);
    assertThat(again.repeated()).isTrue();
    assertThat(other.repeated()).isTrue();
    assertThat(again.json()).isEqualTo(first.json());
  }

  @Test
  void deviceModelAndSequenceEachTellFeaturesApart() throws Exception {
    answer(header("cam-1", 1, "m", 5, 1_000));
    answer(header("cam-2", 1, "m", 5, 1_000));
    answer(header("cam-1", 1, "n", 5, 1_000));
    answer(header("cam-1", 1, "m", 6, 1_000));
    assertThat(computed).hasValue(4);
  }

  @Test
  void withoutAnEpochTheCaptureTimeTellsTwoProcessesApart() throws Exception {
    // v1/v2 frames (epoch 0): a restarted edge numbers from 0 again; only the capture time differs.
    answer(header("cam-1", 0, "m", 0, 1_000));
    ResultCache.Answer restarted = answer(header("cam-1", 0, "m", 0, 9_000));
    ResultCache.Answer repeat = answer(header("cam-1", 0, "m", 0, 9_000));
    assertThat(computed).hasValue(2);
    assertThat(restarted.repeated()).isFalse();
    assertThat(repeat.repeated()).isTrue();
  }

  @Test
  void aFailedComputationIsNotKeptAndTheNextCopyComputes() throws Exception {
    FrameHeader h = header("cam-1", 1, "m", 7, 1_000);
    assertThatThrownBy(() -> cache.answer(ResultCache.Key.of(h), () -> {
      throw new InferenceException("boom");
    })).isInstanceOf(InferenceException.class);
    ResultCache.Answer a = answer(h);
    assertThat(a.repeated()).isFalse();
    assertThat(computed).hasValue(1);
  }

  @Test
  void theCacheIsBoundedLeastRecentlyUsedFirst() throws Exception {
    for (int i = 0; i < 20; i++) answer(header("cam-1", 1, "m", i, 1_000));
    assertThat(cache.size()).isEqualTo(16);
    answer(header("cam-1", 1, "m", 19, 1_000)); // still cached
    assertThat(computed).hasValue(20);
    answer(header("cam-1", 1, "m", 0, 1_000)); // evicted: computed again
    assertThat(computed).hasValue(21);
  }
}

package dev.splitrt.tail;

import dev.splitrt.codec.FrameHeader;
import dev.splitrt.infer.InferenceException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The tail's idempotency: a bounded LRU map from a feature's identity to the result JSON computed
 * for it the first time. A repeated feature (an edge resend, a QoS 1 duplicate) gets that result
 * again instead of a second computation; a repeat that arrives while the first copy is still being
 * computed waits for it. Thread-safe (the workers share one cache).
 */
final class ResultCache {
  /** How long a repeat waits for the first copy's computation before computing it itself. */
  private static final long WAIT_FOR_FIRST_S = 30;

  /**
   * What makes a feature the same feature again: {@code (device, epoch, model, sequence)}, the identity
   * of {@code delivery.md} (sequences restart at 0 in every edge process; the boot epoch tells the
   * processes apart). {@code captureMicros} is part of the key only for frames without an epoch
   * (versions 1 and 2, epoch 0): there the capture time is the only thing that tells two processes'
   * sequence 0 apart; with an epoch it is 0, so a resend is the same key whatever it carries.
   */
  record Key(String device, long epoch, String model, long sequence, long captureMicros) {
    static Key of(FrameHeader h) {
      return new Key(h.deviceId(), h.epoch(), h.modelId(), h.sequence(), h.epoch() == 0 ? h.captureEpochMicros() : 0);
    }
  }

  /** A result and whether it was computed before (a repeat, published again, not counted as a result). */
  record Answer(byte[] json, boolean repeated) {}

  /** Computes a result the first time a key is seen. */
  interface Computation {
    byte[] compute() throws InferenceException;
  }

  private final Map<Key, CompletableFuture<byte[]>> results;

  ResultCache(int capacity) {
    // 0 (the config allows it) keeps nothing: the map drops each entry as it is put, so every copy is computed.
    if (capacity < 0) throw new IllegalArgumentException("result cache must hold >= 0 results, was " + capacity);
    results = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Key, CompletableFuture<byte[]>> eldest) {
        return size() > capacity;
      }
    };
  }

  /**
   * The cached result of {@code key}, or {@code computation}'s, which is then kept. A failed
   * computation is not kept (the next copy computes again) and its exception is thrown.
   */
  Answer answer(Key key, Computation computation) throws InferenceException, InterruptedException {
    CompletableFuture<byte[]> mine = new CompletableFuture<>();
    CompletableFuture<byte[]> earlier;
    synchronized (results) {
      earlier = results.putIfAbsent(key, mine);
    }
    if (earlier != null) {
      try {
        return new Answer(earlier.get(WAIT_FOR_FIRST_S, TimeUnit.SECONDS), true);
      } catch (ExecutionException | TimeoutException e) {
        // The first attempt failed or hangs: compute it here.
        synchronized (results) {
          results.put(key, mine);
        }
      }
    }
    try {
      byte[] json = computation.compute();
      mine.complete(json);
      return new Answer(json, false);
    } catch (InferenceException | RuntimeException | Error e) {
      synchronized (results) {
        results.remove(key, mine);
      }
      mine.completeExceptionally(e);
      throw e;
    }
  }

  int size() {
    synchronized (results) {
      return results.size();
    }
  }
}

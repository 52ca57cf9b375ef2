package dev.splitrt.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Chunks: a FeatureFrame larger than the broker's Maximum Packet Size travels as a set of chunk
 * messages on the same topic, each one self-checking, and is reassembled in the tail. The wire format
 * is {@code runtime/docs/feature-chunk-v1.md} (magic {@code SRTC}, so a tail tells a chunk from a
 * frame, {@code SRTF}, by its first four bytes). {@link #split} is the sender side;
 * {@link Assembler} the receiver side, bounded in memory and in time.
 */
public final class FeatureChunks {
  /** {@code 53 52 54 43}, ASCII "SRTC". */
  static final byte[] MAGIC = {'S', 'R', 'T', 'C'};
  static final int VERSION = 1;
  /** Bytes before a chunk's data. */
  public static final int HEADER_BYTES = 32;
  /** Header plus the trailing CRC32C. */
  public static final int OVERHEAD_BYTES = HEADER_BYTES + 4;
  static final int MAX_COUNT = 0xFFFF;

  private FeatureChunks() {}

  /** True when the message starts with the chunk magic (a tail checks this before decoding a frame). */
  public static boolean isChunk(byte[] m) {
    return m.length >= 4 && m[0] == MAGIC[0] && m[1] == MAGIC[1] && m[2] == MAGIC[2] && m[3] == MAGIC[3];
  }

  /**
   * Splits {@code frame} into chunk messages of at most {@code maxChunkBytes} each (header and CRC
   * included). The set id is derived from the frame ({@link #setId}), so a resent frame's chunks
   * form the same set again.
   *
   * @throws IllegalArgumentException when {@code maxChunkBytes} leaves no room for data or the frame
   *     needs more than 65,535 chunks
   */
  public static List<byte[]> split(byte[] frame, int maxChunkBytes) {
    int room = maxChunkBytes - OVERHEAD_BYTES;
    if (room < 1) {
      throw new IllegalArgumentException("chunks of " + maxChunkBytes + " bytes leave no room for data (overhead "
          + OVERHEAD_BYTES + " bytes); raise the broker's max_packet_size");
    }
    long count = (frame.length + (long) room - 1) / room;
    if (count < 1) count = 1;
    if (count > MAX_COUNT) {
      throw new IllegalArgumentException("a frame of " + frame.length + " bytes needs " + count + " chunks of " + room
          + " data bytes, more than " + MAX_COUNT + "; raise the broker's max_packet_size");
    }
    int frameCrc = crc(frame, 0, frame.length);
    long setId = setId(frame);
    List<byte[]> out = new ArrayList<>((int) count);
    for (int i = 0; i < count; i++) {
      int off = i * room;
      int n = Math.min(room, frame.length - off);
      ByteBuffer b = ByteBuffer.allocate(OVERHEAD_BYTES + n).order(ByteOrder.LITTLE_ENDIAN);
      b.put(MAGIC).put((byte) VERSION).put((byte) 0).putShort((short) i).putShort((short) count).putShort((short) 0)
          .putLong(setId).putInt(frame.length).putInt(off).putInt(frameCrc).put(frame, off, n);
      b.putInt(crc(b.array(), 0, HEADER_BYTES + n));
      out.add(b.array());
    }
    return out;
  }

  /**
   * {@code CRC-32(frame) << 32 | length}, with the IEEE polynomial ({@link java.util.zip.CRC32}): the
   * same for a resent frame, different for different frames. Not CRC32C: a FeatureFrame ends with the
   * CRC32C of what precedes it, so the CRC32C of a whole FeatureFrame is that CRC's residue,
   * {@code 0x48674bc7}, for every frame, and (the CRC being linear) so is any CRC32C over a fixed
   * prefix or suffix and the frame: equal-length frames would all share one set id.
   */
  static long setId(byte[] frame) {
    java.util.zip.CRC32 c = new java.util.zip.CRC32();
    c.update(frame, 0, frame.length);
    return (c.getValue() << 32) | (frame.length & 0xFFFFFFFFL);
  }

  static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  /** A chunk or a chunk set refused; {@code reason} is a stable snake_case word for dead letters and metrics. */
  public static final class ChunkException extends Exception {
    private final String reason;

    ChunkException(String reason, String message) {
      super(message);
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  /** A set that did not complete in time: dead-lettered with reason {@code chunk_timeout}. */
  public record Expired(String topic, long setId, int received, int count, long totalBytes) {}

  /**
   * Reassembles chunk sets, keyed by topic and set id. Memory is bounded: the frame sizes of all open
   * sets together stay within {@code maxBytes}, at most {@code maxSets} are open, and no frame may
   * exceed {@code maxFrameBytes}; a chunk that would break a bound is refused ({@code reassembly_full},
   * {@code chunk_too_large}) before anything is allocated. A set not complete within
   * {@code timeoutNanos} of its first chunk is dropped by {@link #expire}. Not thread-safe: callers
   * synchronize.
   */
  public static final class Assembler {
    private final long maxBytes;
    private final int maxSets;
    private final long maxFrameBytes;
    private final long timeoutNanos;
    private final Map<String, Set> open = new LinkedHashMap<>();
    private long bytesOpen;

    private static final class Set {
      final String topic;
      final long id;
      final int count;
      final int total;
      final int frameCrc;
      final long started;
      final byte[] frame;
      final BitSet have = new BitSet();
      long bytes;

      Set(String topic, long id, int count, int total, int frameCrc, long started) {
        this.topic = topic;
        this.id = id;
        this.count = count;
        this.total = total;
        this.frameCrc = frameCrc;
        this.started = started;
        this.frame = new byte[total];
      }
    }

    public Assembler(long maxBytes, int maxSets, long maxFrameBytes, long timeoutNanos) {
      this.maxBytes = maxBytes;
      this.maxSets = maxSets;
      this.maxFrameBytes = maxFrameBytes;
      this.timeoutNanos = timeoutNanos;
    }

    /** Bytes held by open sets now. */
    public long bytesOpen() {
      return bytesOpen;
    }

    public int setsOpen() {
      return open.size();
    }

    /** Takes one chunk; returns the frame when this chunk completed its set. */
    public Optional<byte[]> accept(String topic, byte[] m, long nowNanos) throws ChunkException {
      if (m.length < OVERHEAD_BYTES + 1) {
        throw new ChunkException("chunk_truncated", "chunk of " + m.length + " bytes; a chunk has at least "
            + (OVERHEAD_BYTES + 1) + " (32-byte header, data, 4-byte CRC)");
      }
      if (!isChunk(m)) throw new ChunkException("chunk_bad_header", "not a chunk: magic is not SRTC");
      ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
      int crcAt = m.length - 4;
      if (b.getInt(crcAt) != crc(m, 0, crcAt)) {
        throw new ChunkException("chunk_crc_mismatch", "chunk CRC32C does not match its bytes (corrupted in transit or forged)");
      }
      int version = m[4] & 0xFF;
      if (version != VERSION) throw new ChunkException("chunk_bad_header", "chunk version " + version + "; this tail reads 1");
      if (m[5] != 0 || b.getShort(10) != 0) throw new ChunkException("chunk_bad_header", "chunk flags/reserved bytes must be 0");
      int index = b.getShort(6) & 0xFFFF;
      int count = b.getShort(8) & 0xFFFF;
      long setId = b.getLong(12);
      long total = b.getInt(20) & 0xFFFFFFFFL;
      long offset = b.getInt(24) & 0xFFFFFFFFL;
      int frameCrc = b.getInt(28);
      int n = m.length - OVERHEAD_BYTES;
      if (count < 1 || index >= count) throw new ChunkException("chunk_bad_header", "chunk index " + index + " of count " + count);
      if (total < 1 || total > maxFrameBytes) {
        throw new ChunkException("chunk_too_large", "chunk set declares a frame of " + total + " bytes; this tail takes at most "
            + maxFrameBytes);
      }
      if (offset + n > total) {
        throw new ChunkException("chunk_bad_header", "chunk data " + offset + "+" + n + " runs past the frame's " + total + " bytes");
      }
      String key = topic + '\0' + setId;
      Set s = open.get(key);
      if (s == null) {
        if (open.size() >= maxSets || bytesOpen + total > maxBytes) {
          throw new ChunkException("reassembly_full", "no room for another chunk set of " + total + " bytes ("
              + open.size() + " sets, " + bytesOpen + " of " + maxBytes + " bytes open); incomplete sets time out");
        }
        s = new Set(topic, setId, count, (int) total, frameCrc, nowNanos);
        open.put(key, s);
        bytesOpen += total;
      } else if (s.count != count || s.total != total || s.frameCrc != frameCrc) {
        throw new ChunkException("chunk_inconsistent", "chunk " + index + " disagrees with its set (count, size or frame CRC)");
      }
      if (s.have.get(index)) {
        return Optional.empty(); // a duplicate chunk (QoS 1 or a resend): already have it
      }
      System.arraycopy(m, HEADER_BYTES, s.frame, (int) offset, n);
      s.have.set(index);
      s.bytes += n;
      if (s.have.cardinality() < s.count) {
        return Optional.empty();
      }
      open.remove(key);
      bytesOpen -= s.total;
      if (s.bytes != s.total || crc(s.frame, 0, s.total) != s.frameCrc) {
        throw new ChunkException("frame_crc_mismatch", "the " + s.count + " chunks of set " + Long.toHexString(setId)
            + " do not rebuild the frame they declare (" + s.bytes + " of " + s.total + " bytes, CRC32C differs)");
      }
      return Optional.of(s.frame);
    }

    /** Drops the sets older than the timeout and returns them (for dead letters). */
    public List<Expired> expire(long nowNanos) {
      List<Expired> out = new ArrayList<>();
      for (Iterator<Set> it = open.values().iterator(); it.hasNext(); ) {
        Set s = it.next();
        if (nowNanos - s.started > timeoutNanos) {
          it.remove();
          bytesOpen -= s.total;
          out.add(new Expired(s.topic, s.id, s.have.cardinality(), s.count, s.total));
        }
      }
      return out;
    }
  }
}

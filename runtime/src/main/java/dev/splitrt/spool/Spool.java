package dev.splitrt.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable spool: an append-only journal of accepted features and of their outcomes, in segment
 * files {@code seg-<id>.log}. A record is {@code u32 length, u32 CRC-32C, u8 type, payload}
 * (little-endian; the CRC covers the type byte and the payload; {@code runtime/docs/delivery.md}).
 * A FEATURE record holds the frame's identity, its capture time, the topic and the FeatureFrame; an
 * OUTCOME record says it was answered or expired (and why). A segment is deleted once every feature
 * in it and in all older segments has an outcome, so outcome records never outlive what they refer
 * to. Recovery at {@link #open} reads every segment, cuts a torn or corrupt record and everything
 * after it in that segment (counted), and keeps the features without an outcome, in order.
 *
 * <p>Threads: every method is safe to call from any thread (one monitor). {@link #append} may block
 * under {@link SpoolSettings.FullPolicy#BLOCK}. The flusher thread of {@link SpoolSettings.Fsync#INTERVAL}
 * is the spool's own; {@link #close} stops it after a last force.
 */
public final class Spool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Spool.class);
  static final int HEADER_BYTES = 9;
  static final byte FEATURE = 1;
  static final byte OUTCOME = 2;
  /** A record longer than this is corruption, not data (a FeatureFrame is tens of KB). */
  static final int MAX_RECORD = 16 << 20;
  /** FEATURE payload before the topic: u32 epoch, u64 sequence, i64 capture µs, u16 topic length. */
  static final int FEATURE_FIXED = 4 + 8 + 8 + 2;
  static final int OUTCOME_PAYLOAD = 4 + 8 + 1;

  /** Why a feature left the spool; the id is written in OUTCOME records. */
  public enum Outcome {
    /** Its result reached the device. */
    ANSWERED(1, "answered"),
    /** Older than the spool's max age. */
    EXPIRED_MAX_AGE(2, "max_age"),
    /** Dropped to make room under {@code drop_oldest}. */
    EXPIRED_SPOOL_FULL(3, "spool_full"),
    /** The broker refused it for good (e.g. larger than its maximum packet size). */
    EXPIRED_REFUSED(4, "refused");

    final int id;
    /** The {@code reason} label of the expiry metrics. */
    public final String reason;

    Outcome(int id, String reason) {
      this.id = id;
      this.reason = reason;
    }

    static Outcome of(int id) {
      for (Outcome o : values()) if (o.id == id) return o;
      return null;
    }
  }

  /** The identity of a frame: unique across restarts of one device. */
  public record Key(long epoch, long sequence) {}

  /** One accepted feature without an outcome. Mutable delivery fields belong to the caller (under its own lock). */
  public static final class Entry {
    public final Key key;
    public final String topic;
    public final long captureMicros;
    final Segment segment;
    final long messageOffset;
    final int messageLength;
    /** Delivery state, owned by the delivery window. */
    public int attempts;
    public long resendAtNanos;
    public boolean sent;

    Entry(Key key, String topic, long captureMicros, Segment segment, long messageOffset, int messageLength) {
      this.key = key;
      this.topic = topic;
      this.captureMicros = captureMicros;
      this.segment = segment;
      this.messageOffset = messageOffset;
      this.messageLength = messageLength;
    }

    public int messageLength() {
      return messageLength;
    }
  }

  /** What recovery found: features carried over, records cut (torn: short; corrupt: bad length, type or CRC). */
  public record Recovery(int segments, int features, int outcomes, int tornRecords, int corruptRecords, long bytesCut) {}

  static final class Segment {
    final long id;
    final Path path;
    final FileChannel channel;
    long size;
    int live;

    Segment(long id, Path path, FileChannel channel, long size) {
      this.id = id;
      this.path = path;
      this.channel = channel;
      this.size = size;
    }
  }

  private final SpoolSettings settings;
  private final long epoch;
  private final ArrayDeque<Segment> segments = new ArrayDeque<>();
  private final LinkedHashMap<Key, Entry> live = new LinkedHashMap<>();
  private final Recovery recovery;
  private final CRC32C crc = new CRC32C();
  private final Thread flusher;
  private Segment active;
  private long totalBytes;
  private boolean dirty;
  private boolean closed;
  private long fsyncs;
  private long bytesWritten;
  private long featureRecords;
  private BiConsumer<Entry, Outcome> onExpired = (e, o) -> {};

  private Spool(SpoolSettings settings, long epoch, Recovery recovery) {
    this.settings = settings;
    this.epoch = epoch;
    this.recovery = recovery;
    this.flusher = settings.fsync() == SpoolSettings.Fsync.INTERVAL
        ? new Thread(this::flushLoop, "splitrt-spool-flush") : null;
  }

  /**
   * Opens (recovers) the spool in {@code settings.dir()}, takes the next boot epoch, forced to the
   * device before this returns, and starts a new segment.
   */
  public static Spool open(SpoolSettings settings) throws IOException {
    Files.createDirectories(settings.dir());
    long epoch = BootEpoch.next(settings.dir());
    List<Path> files;
    try (Stream<Path> s = Files.list(settings.dir())) {
      files = s.filter(p -> p.getFileName().toString().matches("seg-\\d{20}\\.log")).sorted().toList();
    }
    int[] counts = new int[4];
    long[] cut = new long[1];
    Spool spool = new Spool(settings, epoch, null);
    for (Path f : files) {
      long id = Long.parseLong(f.getFileName().toString().substring(4, 24));
      spool.recoverSegment(id, f, counts, cut);
    }
    Recovery r = new Recovery(files.size(), spool.live.size(), counts[1], counts[2], counts[3], cut[0]);
    Spool opened = new Spool(settings, epoch, r);
    opened.segments.addAll(spool.segments);
    opened.live.putAll(spool.live);
    opened.totalBytes = spool.totalBytes;
    long nextId = opened.segments.isEmpty() ? 0 : opened.segments.peekLast().id + 1;
    opened.reclaim();
    opened.active = opened.newSegment(nextId);
    if (r.tornRecords() + r.corruptRecords() > 0) {
      log.warn("spool {}: cut {} torn and {} corrupt records ({} bytes) at recovery", settings.dir(), r.tornRecords(),
          r.corruptRecords(), r.bytesCut());
    }
    log.info("spool {}: epoch {}, {} unanswered features recovered from {} segments", settings.dir(), epoch,
        r.features(), r.segments());
    if (opened.flusher != null) {
      opened.flusher.setDaemon(true);
      opened.flusher.start();
    }
    return opened;
  }

  /**
   * Reads a spool folder without changing anything (no new epoch, no cut, no new segment): the
   * identities of the features without an outcome, in order. For tools and tests.
   */
  public static List<Key> peek(Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.getFileName().toString().matches("seg-\\d{20}\\.log")).sorted().toList();
    }
    Spool spool = new Spool(SpoolSettings.defaults(dir), 0, null);
    try {
      for (Path f : files) {
        spool.recoverSegment(Long.parseLong(f.getFileName().toString().substring(4, 24)), f, new int[4], new long[1], false);
      }
      return new ArrayList<>(spool.live.keySet());
    } finally {
      for (Segment seg : spool.segments) seg.channel.close();
    }
  }

  /** Peeks at the boot epoch last taken in {@code dir} (0 when none), without taking a new one. */
  public static long lastEpoch(Path dir) throws IOException {
    Path f = dir.resolve(BootEpoch.FILE);
    if (!Files.exists(f)) return 0;
    byte[] b = Files.readAllBytes(f);
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(0) & 0xFFFF_FFFFL;
  }

  private void recoverSegment(long id, Path f, int[] counts, long[] cut) throws IOException {
    recoverSegment(id, f, counts, cut, true);
  }

  private void recoverSegment(long id, Path f, int[] counts, long[] cut, boolean repair) throws IOException {
    FileChannel ch = repair ? FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)
        : FileChannel.open(f, StandardOpenOption.READ);
    long size = ch.size();
    Segment seg = new Segment(id, f, ch, size);
    ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    long p = 0;
    String bad = null;
    while (p < size) {
      if (size - p < HEADER_BYTES) {
        bad = "torn";
        break;
      }
      head.clear();
      readFully(ch, head, p);
      int len = head.getInt(0);
      int stored = head.getInt(4);
      byte type = head.get(8);
      if (len < 0 || len > MAX_RECORD || (type != FEATURE && type != OUTCOME)
          || (type == OUTCOME && len != OUTCOME_PAYLOAD) || (type == FEATURE && len < FEATURE_FIXED)) {
        bad = "corrupt";
        break;
      }
      if (size - p - HEADER_BYTES < len) {
        bad = "torn";
        break;
      }
      ByteBuffer payload = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, payload, p + HEADER_BYTES);
      crc.reset();
      crc.update(type);
      crc.update(payload.array(), 0, len);
      if ((int) crc.getValue() != stored) {
        bad = "corrupt";
        break;
      }
      if (type == FEATURE) {
        Key k = new Key(payload.getInt(0) & 0xFFFF_FFFFL, payload.getLong(4));
        long capture = payload.getLong(12);
        int topicLen = payload.getShort(20) & 0xFFFF;
        if (FEATURE_FIXED + topicLen > len) {
          bad = "corrupt";
          break;
        }
        String topic = new String(payload.array(), FEATURE_FIXED, topicLen, StandardCharsets.UTF_8);
        long msgOff = p + HEADER_BYTES + FEATURE_FIXED + topicLen;
        Entry e = new Entry(k, topic, capture, seg, msgOff, len - FEATURE_FIXED - topicLen);
        Entry old = live.put(k, e);
        if (old != null) old.segment.live--;
        seg.live++;
        counts[0]++;
      } else {
        Key k = new Key(payload.getInt(0) & 0xFFFF_FFFFL, payload.getLong(4));
        Entry e = live.remove(k);
        if (e != null) e.segment.live--;
        counts[1]++;
      }
      p += HEADER_BYTES + len;
    }
    if (bad != null) {
      counts["torn".equals(bad) ? 2 : 3]++;
      cut[0] += size - p;
      if (repair) {
        ch.truncate(p);
        ch.force(true);
      }
      seg.size = p;
    }
    segments.addLast(seg);
    totalBytes += seg.size;
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos + b.position());
      if (n < 0) throw new IOException("unexpected end of spool segment at " + (pos + b.position()));
    }
    b.flip();
  }

  private Segment newSegment(long id) throws IOException {
    Path p = settings.dir().resolve(String.format("seg-%020d.log", id));
    FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    BootEpoch.forceDir(settings.dir());
    Segment s = new Segment(id, p, ch, 0);
    segments.addLast(s);
    return s;
  }

  /** Called (under the spool's monitor) for each feature that expires; the delivery window counts them. */
  public synchronized void onExpired(BiConsumer<Entry, Outcome> listener) {
    this.onExpired = listener;
  }

  public long epoch() {
    return epoch;
  }

  public Recovery recovery() {
    return recovery;
  }

  public SpoolSettings settings() {
    return settings;
  }

  /**
   * Appends an accepted feature. Returns once the record is written (and, with {@code always},
   * forced). Under {@code block} waits while the spool is full.
   *
   * @return its entry, or null when the spool was closed while waiting
   */
  public Entry append(long sequence, String topic, long captureMicros, byte[] message)
      throws IOException, InterruptedException {
    byte[] t = topic.getBytes(StandardCharsets.UTF_8);
    int len = FEATURE_FIXED + t.length + message.length;
    if (len + HEADER_BYTES > settings.segmentBytes()) {
      throw new IllegalArgumentException("feature of " + message.length + " bytes does not fit a spool segment of "
          + settings.segmentBytes() + " bytes; raise spool.segment_bytes");
    }
    ByteBuffer rec = ByteBuffer.allocate(HEADER_BYTES + len).order(ByteOrder.LITTLE_ENDIAN);
    rec.putInt(len).putInt(0).put(FEATURE);
    rec.putInt((int) epoch).putLong(sequence).putLong(captureMicros).putShort((short) t.length).put(t).put(message);
    synchronized (this) {
      makeRoom(rec.capacity());
      if (closed) return null;
      Key k = new Key(epoch, sequence);
      if (live.containsKey(k)) throw new IllegalStateException("spool already holds epoch " + epoch + " sequence " + sequence);
      long at = write(rec);
      Entry e = new Entry(k, topic, captureMicros, active, at + HEADER_BYTES + FEATURE_FIXED + t.length,
          message.length);
      active.live++;
      live.put(k, e);
      featureRecords++;
      if (settings.fsync() == SpoolSettings.Fsync.ALWAYS) force();
      return e;
    }
  }

  /** Writes the CRC into {@code rec} and appends it to the active segment (rolling first if it does not fit). */
  private long write(ByteBuffer rec) throws IOException {
    crc.reset();
    crc.update(rec.array(), 8, rec.capacity() - 8);
    rec.putInt(4, (int) crc.getValue());
    if (active.size + rec.capacity() > settings.segmentBytes()) roll();
    long at = active.size;
    rec.position(0);
    while (rec.hasRemaining()) active.channel.write(rec, at + rec.position());
    active.size += rec.capacity();
    totalBytes += rec.capacity();
    bytesWritten += rec.capacity();
    dirty = true;
    return at;
  }

  private void roll() throws IOException {
    if (dirty && settings.fsync() != SpoolSettings.Fsync.NEVER) force();
    active = newSegment(active.id + 1);
    reclaim();
  }

  private void makeRoom(int need) throws IOException, InterruptedException {
    while (!closed && totalBytes + need > settings.maxBytes()) {
      if (active.live == 0 && active.size > 0 && segments.size() == 1) {
        roll();
        continue;
      }
      if (reclaim()) continue;
      if (settings.fullPolicy() == SpoolSettings.FullPolicy.BLOCK) {
        wait(100);
        continue;
      }
      Segment oldest = segments.peekFirst();
      if (oldest == active) {
        roll();
        continue;
      }
      List<Entry> doomed = new ArrayList<>();
      for (Entry e : live.values()) if (e.segment == oldest) doomed.add(e);
      for (Entry e : doomed) finishLocked(e.key, Outcome.EXPIRED_SPOOL_FULL);
      reclaim();
    }
  }

  /** Deletes the oldest segments while every feature in them has an outcome (never the active one). */
  private boolean reclaim() throws IOException {
    boolean any = false;
    while (segments.size() > 1 && segments.peekFirst().live == 0 && segments.peekFirst() != active) {
      Segment s = segments.pollFirst();
      s.channel.close();
      Files.deleteIfExists(s.path);
      totalBytes -= s.size;
      any = true;
    }
    if (any) notifyAll();
    return any;
  }

  /** The FeatureFrame bytes of a live entry, read from its segment. */
  public byte[] read(Entry e) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(e.messageLength);
    synchronized (this) {
      if (closed) throw new IOException("spool " + settings.dir() + " is closed");
      readFully(e.segment.channel, b, e.messageOffset);
    }
    return b.array();
  }

  /**
   * Records an outcome for {@code key}. Returns false when the key has no live entry (answered or
   * expired before: a duplicate or late result).
   */
  public synchronized boolean finish(Key key, Outcome outcome) throws IOException {
    if (closed) return false;
    return finishLocked(key, outcome) != null;
  }

  private Entry finishLocked(Key key, Outcome outcome) throws IOException {
    Entry e = live.remove(key);
    if (e == null) return null;
    ByteBuffer rec = ByteBuffer.allocate(HEADER_BYTES + OUTCOME_PAYLOAD).order(ByteOrder.LITTLE_ENDIAN);
    rec.putInt(OUTCOME_PAYLOAD).putInt(0).put(OUTCOME).putInt((int) key.epoch()).putLong(key.sequence())
        .put((byte) outcome.id);
    write(rec);
    e.segment.live--;
    if (outcome != Outcome.ANSWERED) onExpired.accept(e, outcome);
    reclaim();
    return e;
  }

  /** Expires every live feature captured before {@code nowMicros - maxAge}; returns how many. */
  public synchronized int expireOld(long nowMicros) throws IOException {
    long limit = nowMicros - TimeUnit.NANOSECONDS.toMicros(settings.maxAge().toNanos());
    List<Key> old = new ArrayList<>();
    for (Entry e : live.values()) if (e.captureMicros < limit) old.add(e.key);
    for (Key k : old) finishLocked(k, Outcome.EXPIRED_MAX_AGE);
    return old.size();
  }

  /** Live entries in acceptance order; the visitor runs under the spool's monitor and must be quick. */
  public synchronized void forEachLive(java.util.function.Predicate<Entry> visitor) {
    for (Iterator<Entry> it = live.values().iterator(); it.hasNext();) {
      if (!visitor.test(it.next())) break;
    }
  }

  public synchronized Entry get(Key k) {
    return live.get(k);
  }

  public synchronized int liveCount() {
    return live.size();
  }

  public synchronized long bytes() {
    return totalBytes;
  }

  public synchronized int segmentCount() {
    return segments.size();
  }

  /** Capture time of the oldest unanswered feature, or {@code Long.MAX_VALUE} when none. */
  public synchronized long oldestCaptureMicros() {
    Map.Entry<Key, Entry> first = live.entrySet().stream().findFirst().orElse(null);
    return first == null ? Long.MAX_VALUE : first.getValue().captureMicros;
  }

  public synchronized long fsyncs() {
    return fsyncs;
  }

  public synchronized long bytesWritten() {
    return bytesWritten;
  }

  public synchronized long featureRecords() {
    return featureRecords;
  }

  /** Forces what was written to the device now. */
  public synchronized void force() throws IOException {
    if (!dirty || closed) return;
    active.channel.force(false);
    fsyncs++;
    dirty = false;
  }

  private void flushLoop() {
    long period = settings.fsyncInterval().toNanos();
    while (true) {
      try {
        TimeUnit.NANOSECONDS.sleep(period);
      } catch (InterruptedException e) {
        return;
      }
      synchronized (this) {
        if (closed) return;
        try {
          force();
        } catch (IOException e) {
          log.error("spool {}: fsync failed: {}", settings.dir(), e.toString());
        }
      }
    }
  }

  /** Forces what was written (unless {@code never}) and closes the segments. Idempotent. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closed) return;
      if (settings.fsync() != SpoolSettings.Fsync.NEVER) force();
      closed = true;
      notifyAll();
      for (Segment s : segments) s.channel.close();
    }
    if (flusher != null) flusher.interrupt();
  }
}

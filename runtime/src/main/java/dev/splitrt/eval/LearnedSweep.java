package dev.splitrt.eval;

import dev.splitrt.codec.EntropyTables;
import dev.splitrt.codec.FeatureFrameException;
import dev.splitrt.codec.FrameHeader;
import dev.splitrt.codec.LearnedFeatureDecoder;
import dev.splitrt.codec.LearnedFeatureEncoder;
import dev.splitrt.codec.LearnedFeatureFrame;
import dev.splitrt.infer.InferenceBackend;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.SessionOptions;
import dev.splitrt.model.LoadedModel;
import dev.splitrt.model.ModelManifest;
import dev.splitrt.tail.Classification;
import dev.splitrt.tail.Detections;
import dev.splitrt.tail.Postprocessor;
import dev.splitrt.tail.Prediction;
import dev.splitrt.vision.Frame;
import dev.splitrt.vision.FrameSource;
import dev.splitrt.vision.FrameSources;
import dev.splitrt.vision.ImageTransform;
import dev.splitrt.vision.Preprocessor;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.IntConsumer;

/**
 * Rate against accuracy of one learned-codec model (bottleneck.codec entropy rans): every evaluation
 * frame through the path a deployed frame takes — Preprocessor, head session, {@link LearnedFeatureEncoder}
 * (rounding around the medians + rANS with the model's tables), the whole FeatureFrame v4 message,
 * {@link LearnedFeatureDecoder}, tail session, evaluation-mode post-processing — scored like the card.
 * Also times the encoder (quantize + rANS + framing, not the head) per frame.
 */
public final class LearnedSweep {
  private LearnedSweep() {}

  /**
   * @param meanBytes mean whole-message bytes (header, payload, CRC)
   * @param encodeNanosMedian median time of {@link LearnedFeatureEncoder#encode} per frame (this CPU, one thread)
   */
  public record Point(String modelId, long frames, double meanBytes, int maxBytes, double metric, double map5095,
                      long encodeNanosMedian, long decodeNanosMedian) {}

  public static Point run(LoadedModel model, Path evalSet, InferenceBackend backend, SessionOptions options, int maxFrames,
      IntConsumer progress) throws IOException, InferenceException {
    ModelManifest mf = model.manifest();
    if (!mf.bottleneck().learned()) {
      throw new IllegalArgumentException(mf.id() + ": bottleneck.codec is not the learned codec (entropy: rans); "
          + "measure it with the codec sweep instead");
    }
    EntropyTables tables = model.entropyTables();
    if (evalSet == null && mf.eval() == null) throw new IOException(model.dir().resolve("model.yaml") + ": no 'eval' section");
    EvalLabels labels = EvalLabels.read(evalSet != null ? evalSet.resolve("labels.json") : model.resolve(mf.eval().labels()));
    Path images = evalSet != null ? evalSet : model.resolve(mf.eval().images());
    CodecSweep.checkOrder(labels, images);
    int frames = maxFrames > 0 ? Math.min(maxFrames, labels.items().size()) : labels.items().size();
    boolean detection = mf.task() == ModelManifest.Task.DETECTION;
    int[] shape = mf.head().output().dims();
    int elements = mf.head().output().elementCount();
    byte[] headSha = model.headSha256();
    Postprocessor post = Postprocessor.forModel(mf, true);
    LearnedFeatureEncoder encoder = new LearnedFeatureEncoder(tables, shape);
    LearnedFeatureDecoder decoder = new LearnedFeatureDecoder(tables, elements);
    TopOneAccuracy top1 = detection ? null : new TopOneAccuracy();
    MeanAveragePrecision map = detection ? new MeanAveragePrecision() : null;
    long[] enc = new long[frames];
    long[] dec = new long[frames];
    long sum = 0;
    int max = 0;
    float[] decoded = new float[elements];
    try (InferenceSession head = backend.open(model.head(), options);
         InferenceSession tail = backend.open(model.tail(), options);
         FrameSource source = FrameSources.open(images.toString())) {
      Preprocessor pre = new Preprocessor(mf.input());
      for (int i = 0; i < frames; i++) {
        EvalLabels.Item item = labels.items().get(i);
        Optional<Frame> next = source.next();
        if (next.isEmpty()) throw new IOException(images + ": ended after " + i + " frames; labels list " + frames);
        try (Frame frame = next.get()) {
          pre.apply(frame, head.input());
          FloatBuffer features = head.run();
          FrameHeader header = new FrameHeader(CodecSweep.DEVICE_ID, mf.id(), headSha, frame.sequence(),
              frame.captureEpochMicros(), frame.width(), frame.height());
          long t0 = System.nanoTime();
          byte[] msg = encoder.encode(header, features);
          long t1 = System.nanoTime();
          LearnedFeatureFrame f = decoder.decode(msg);
          f.dequantizeInto(tables, FloatBuffer.wrap(decoded));
          long t2 = System.nanoTime();
          enc[i] = t1 - t0;
          dec[i] = t2 - t1;
          if (!f.header().equals(header)) throw new IllegalStateException("header did not survive the v4 frame");
          sum += msg.length;
          max = Math.max(max, msg.length);
          ImageTransform t = Preprocessor.transformFor(mf.input(), header.sourceWidth(), header.sourceHeight());
          tail.input().put(0, decoded, 0, elements);
          Prediction p = post.apply(tail.run(), t);
          if (top1 != null) top1.add(((Classification) p).topK().get(0).label(), item.label());
          else map.add((Detections) p, item.boxes());
        } catch (FeatureFrameException e) {
          throw new IllegalStateException("the v4 decoder refused a frame the encoder wrote: " + e.getMessage(), e);
        }
        if (progress != null) progress.accept(i + 1);
      }
    }
    java.util.Arrays.sort(enc);
    java.util.Arrays.sort(dec);
    return new Point(mf.id(), frames, (double) sum / frames, max, top1 != null ? top1.value() : map.map50(),
        top1 != null ? Double.NaN : map.map50to95(), enc[frames / 2], dec[frames / 2]);
  }
}

package dev.splitrt.codec;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One decoded FeatureFrame version 4 with the learned codec ({@code runtime/docs/feature-frame-v4.md}):
 * the header, the shape, the id of the entropy tables it was coded with and the symbols as table
 * indices. {@link #dequantizeInto} writes {@code (index + minSymbol[c]) + offset[c]} (float32) straight
 * into the tail's input. The symbols array is not copied.
 */
public record LearnedFeatureFrame(FrameHeader header, int[] shape, int tableId, int[] symbols) {

  public LearnedFeatureFrame {
    Objects.requireNonNull(header, "LearnedFeatureFrame header is null");
    Objects.requireNonNull(shape, "LearnedFeatureFrame shape is null");
    Objects.requireNonNull(symbols, "LearnedFeatureFrame symbols is null");
    if (shape.length < 2) throw new IllegalArgumentException("LearnedFeatureFrame: rank " + shape.length + "; needs a channel axis (rank >= 2)");
    if (symbols.length != Shapes.elementCount(shape)) {
      throw new IllegalArgumentException("LearnedFeatureFrame: " + symbols.length + " symbols for shape " + Arrays.toString(shape));
    }
  }

  public int elementCount() {
    return symbols.length;
  }

  /** Elements per channel slice: the product of the dims after axis 1 (1 for rank 2). */
  static int inner(int[] shape) {
    int inner = 1;
    for (int k = 2; k < shape.length; k++) inner *= shape[k];
    return inner;
  }

  /**
   * Writes the n dequantized values to {@code out[0..n)} (absolute writes). {@code tables} must be
   * the ones the frame names (same table id; the decoder checked it).
   */
  public void dequantizeInto(EntropyTables tables, FloatBuffer out) {
    if (tables.tableId() != tableId) {
      throw new IllegalArgumentException(String.format("LearnedFeatureFrame: coded with tables 0x%08x, given 0x%08x",
          tableId, tables.tableId()));
    }
    int n = symbols.length;
    if (out.limit() < n) {
      throw new IllegalArgumentException("LearnedFeatureFrame.dequantizeInto: out has limit " + out.limit() + ", needs " + n);
    }
    int inner = inner(shape);
    int channels = shape[1];
    for (int i = 0; i < n; i++) {
      int c = (i / inner) % channels;
      out.put(i, (float) (symbols[i] + tables.minSymbol(c)) + tables.offset(c));
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LearnedFeatureFrame f && header.equals(f.header) && Arrays.equals(shape, f.shape)
        && tableId == f.tableId && Arrays.equals(symbols, f.symbols);
  }

  @Override
  public int hashCode() {
    return Objects.hash(header, Arrays.hashCode(shape), tableId, Arrays.hashCode(symbols));
  }

  @Override
  public String toString() {
    return "LearnedFeatureFrame[" + header + ", shape=" + Arrays.toString(shape) + String.format(", tableId=0x%08x", tableId)
        + ", symbols=" + symbols.length + "]";
  }
}

package dev.splitrt.eval;

/**
 * Top-1 accuracy of a classifier over evaluation frames, the figure a classifier's card gives as
 * {@code unsplit_fp32}, {@code split_8bit}, ...: the share of frames whose best class is the truth.
 */
public final class TopOneAccuracy {
  private long count;
  private long correct;

  public void add(int predicted, int truth) {
    count++;
    if (predicted == truth) correct++;
  }

  /** Correct / frames; NaN before the first {@link #add}. */
  public double value() {
    return count == 0 ? Double.NaN : (double) correct / count;
  }

  public long count() {
    return count;
  }
}

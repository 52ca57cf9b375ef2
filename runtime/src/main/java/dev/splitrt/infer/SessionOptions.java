package dev.splitrt.infer;

/** Backend-neutral session settings. {@code threads <= 0} lets the backend choose. */
public record SessionOptions(int threads, String precision) {
  public static SessionOptions defaults() {
    return new SessionOptions(0, "fp32");
  }
}

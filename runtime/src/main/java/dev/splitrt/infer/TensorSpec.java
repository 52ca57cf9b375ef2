package dev.splitrt.infer;

import java.util.Arrays;

/** A named float32 tensor with a static shape. */
public record TensorSpec(String name, int[] shape) {
  public TensorSpec {
    shape = shape.clone();
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  public int elementCount() {
    int n = 1;
    for (int d : shape) n = Math.multiplyExact(n, d);
    return n;
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t && t.name.equals(name) && Arrays.equals(t.shape, shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }
}

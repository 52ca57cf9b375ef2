package dev.splitrt.model;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The graph inputs (initializers excluded) and outputs of an ONNX file, read with a minimal streaming
 * protobuf wire-format reader: weights are skipped, never loaded, and every length is checked against
 * its enclosing message before use, so a corrupt or forged file fails with a {@link ModelException}.
 *
 * <p>Field numbers from onnx.proto: ModelProto.ir_version 1, graph 7; GraphProto.initializer 5,
 * input 11, output 12, sparse_initializer 15; TensorProto.name 8; SparseTensorProto.values 1;
 * ValueInfoProto.name 1, type 2; TypeProto.tensor_type 1; TypeProto.Tensor.elem_type 1, shape 2;
 * TensorShapeProto.dim 1; Dimension.dim_value 1, dim_param 2.
 */
final class OnnxSignature {
  static final int FLOAT = 1;
  private static final int MAX_NAME_BYTES = 1 << 16;
  private static final int MAX_VALUES = 100_000;
  private static final int MAX_DIMS = 64;
  private static final int MAX_INITIALIZERS = 10_000_000;
  private static final long MAX_FILE_BYTES = Integer.MAX_VALUE; // protobuf's own 2 GiB limit

  /** One dimension: a fixed size, a symbolic name, or unknown (neither set). */
  record Dim(long value, String param) {
    boolean fixed() {
      return param == null && value > 0;
    }

    @Override
    public String toString() {
      return param != null ? param : value > 0 ? Long.toString(value) : "?";
    }
  }

  /** A graph input or output; {@code elemType} 0 and {@code dims} null when it is not a tensor with a shape. */
  record Value(String name, int elemType, List<Dim> dims) {
    String describe() {
      String type = elemType == FLOAT ? "float" : elemType == 0 ? "non-tensor" : "elem_type " + elemType;
      String shape = dims == null ? "[unknown rank]"
          : dims.stream().map(Dim::toString).collect(Collectors.joining(", ", "[", "]"));
      return "'" + name + "' " + type + shape;
    }

    boolean matches(String expectedName, List<Integer> shape) {
      if (!name.equals(expectedName) || elemType != FLOAT || dims == null || dims.size() != shape.size()) return false;
      for (int i = 0; i < dims.size(); i++) {
        if (!dims.get(i).fixed() || dims.get(i).value() != shape.get(i)) return false;
      }
      return true;
    }
  }

  final List<Value> inputs;
  final List<Value> outputs;

  private OnnxSignature(List<Value> inputs, List<Value> outputs) {
    this.inputs = List.copyOf(inputs);
    this.outputs = List.copyOf(outputs);
  }

  static OnnxSignature read(Path file) throws ModelException {
    long size;
    try {
      size = Files.size(file);
    } catch (IOException e) {
      throw new ModelException(file + ": cannot read (" + e + "); restore the file", e);
    }
    if (size > MAX_FILE_BYTES) {
      throw corrupt(file, "is " + size + " bytes, over protobuf's 2 GiB limit (external-data models are not supported in v1)");
    }
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      return new Parser(file, in, size).model();
    } catch (EOFException e) {
      throw corrupt(file, "is truncated (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new ModelException(file + ": cannot read (" + e + "); restore the file", e);
    }
  }

  private static ModelException corrupt(Path file, String what) {
    return new ModelException(file + ": not a readable ONNX model: " + what
        + "; fix: restore the file (git checkout) or re-export it with the recipe in model.yaml provenance.command");
  }

  private static final class Parser {
    private final Path file;
    private final InputStream in;
    private long pos;
    private long limit;

    Parser(Path file, InputStream in, long size) {
      this.file = file;
      this.in = in;
      this.limit = size;
    }

    OnnxSignature model() throws IOException, ModelException {
      List<Value> inputs = new ArrayList<>();
      List<Value> outputs = new ArrayList<>();
      Set<String> initializers = new HashSet<>();
      long irVersion = -1;
      boolean graph = false;
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 1 && wire == 0) {
          irVersion = varint();
        } else if (field == 7 && wire == 2) {
          long outer = enter();
          graph(inputs, outputs, initializers);
          leave(outer);
          graph = true;
        } else {
          skip(field, wire);
        }
      }
      if (irVersion < 1 || irVersion > 1000) {
        throw corrupt(file, irVersion < 0 ? "no ir_version (field 1)" : "ir_version " + irVersion + " is not plausible");
      }
      if (!graph) throw corrupt(file, "no graph (ModelProto field 7)");
      List<Value> realInputs = inputs.stream().filter(v -> !initializers.contains(v.name())).toList();
      return new OnnxSignature(realInputs, outputs);
    }

    private void graph(List<Value> inputs, List<Value> outputs, Set<String> initializers) throws IOException, ModelException {
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 5 || field == 11 || field == 12 || field == 15) {
          expect(wire, 2, field, "GraphProto");
          long outer = enter();
          switch (field) {
            case 5 -> addInitializer(initializers, tensorName());
            case 15 -> addInitializer(initializers, sparseTensorName());
            case 11 -> add(inputs, valueInfo());
            default -> add(outputs, valueInfo());
          }
          leave(outer);
        } else {
          skip(field, wire);
        }
      }
    }

    private void add(List<Value> values, Value v) throws ModelException {
      if (values.size() >= MAX_VALUES) throw corrupt(file, "more than " + MAX_VALUES + " graph inputs or outputs");
      values.add(v);
    }

    private void addInitializer(Set<String> names, String name) throws ModelException {
      if (names.size() >= MAX_INITIALIZERS) throw corrupt(file, "more than " + MAX_INITIALIZERS + " initializers");
      if (name != null) names.add(name);
    }

    /** TensorProto: only field 8 (name) is kept; raw data and the rest are skipped. */
    private String tensorName() throws IOException, ModelException {
      String name = null;
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 8) {
          expect(wire, 2, field, "TensorProto");
          name = string();
        } else {
          skip(field, wire);
        }
      }
      return name;
    }

    /** SparseTensorProto: field 1 (values) is a TensorProto whose name is the initializer's name. */
    private String sparseTensorName() throws IOException, ModelException {
      String name = null;
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 1) {
          expect(wire, 2, field, "SparseTensorProto");
          long outer = enter();
          name = tensorName();
          leave(outer);
        } else {
          skip(field, wire);
        }
      }
      return name;
    }

    private Value valueInfo() throws IOException, ModelException {
      String name = "";
      int elemType = 0;
      List<Dim> dims = null;
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 1) {
          expect(wire, 2, field, "ValueInfoProto");
          name = string();
        } else if (field == 2) {
          expect(wire, 2, field, "ValueInfoProto");
          long outerType = enter();
          while (pos < limit) {
            long t = varint();
            int f = field(t);
            int w = (int) (t & 7);
            if (f == 1) {
              expect(w, 2, f, "TypeProto");
              long outerTensor = enter();
              while (pos < limit) {
                long t2 = varint();
                int f2 = field(t2);
                int w2 = (int) (t2 & 7);
                if (f2 == 1) {
                  expect(w2, 0, f2, "TypeProto.Tensor");
                  elemType = (int) varint();
                } else if (f2 == 2) {
                  expect(w2, 2, f2, "TypeProto.Tensor");
                  long outerShape = enter();
                  dims = shape();
                  leave(outerShape);
                } else {
                  skip(f2, w2);
                }
              }
              leave(outerTensor);
            } else {
              skip(f, w);
            }
          }
          leave(outerType);
        } else {
          skip(field, wire);
        }
      }
      return new Value(name, elemType, dims);
    }

    private List<Dim> shape() throws IOException, ModelException {
      List<Dim> dims = new ArrayList<>();
      while (pos < limit) {
        long tag = varint();
        int field = field(tag);
        int wire = (int) (tag & 7);
        if (field == 1) {
          expect(wire, 2, field, "TensorShapeProto");
          if (dims.size() >= MAX_DIMS) throw corrupt(file, "a shape with more than " + MAX_DIMS + " dimensions");
          long outer = enter();
          long value = 0;
          String param = null;
          while (pos < limit) {
            long t = varint();
            int f = field(t);
            int w = (int) (t & 7);
            if (f == 1) {
              expect(w, 0, f, "Dimension");
              value = varint();
            } else if (f == 2) {
              expect(w, 2, f, "Dimension");
              param = string();
            } else {
              skip(f, w);
            }
          }
          leave(outer);
          dims.add(new Dim(value, param));
        } else {
          skip(field, wire);
        }
      }
      return dims;
    }

    // ---- wire format ----

    private int field(long tag) throws ModelException {
      long f = tag >>> 3;
      if (f == 0 || f > 0x1fffffff) throw corrupt(file, "invalid field number " + f + " at byte " + pos);
      return (int) f;
    }

    private void expect(int wire, int wanted, int field, String message) throws ModelException {
      if (wire != wanted) {
        throw corrupt(file, message + " field " + field + " has wire type " + wire + ", expected " + wanted + " (byte " + pos + ")");
      }
    }

    /** Reads a length prefix, checks it fits the enclosing message and narrows the limit; returns the old limit. */
    private long enter() throws IOException, ModelException {
      long start = pos;
      long len = varint();
      if (len < 0 || len > limit - pos) {
        throw corrupt(file, "a field at byte " + start + " declares " + len + " bytes but its enclosing message has "
            + (limit - pos) + " left (truncated or damaged)");
      }
      long outer = limit;
      limit = pos + len;
      return outer;
    }

    private void leave(long outer) throws ModelException {
      if (pos != limit) throw corrupt(file, "a message ends at byte " + pos + ", expected " + limit);
      limit = outer;
    }

    private void skip(int field, int wire) throws IOException, ModelException {
      switch (wire) {
        case 0 -> varint();
        case 1 -> skipBytes(8);
        case 5 -> skipBytes(4);
        case 2 -> {
          long outer = enter();
          skipBytes(limit - pos);
          leave(outer);
        }
        default -> throw corrupt(file, "field " + field + " has unsupported wire type " + wire + " at byte " + pos);
      }
    }

    private long varint() throws IOException, ModelException {
      long result = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = readByte();
        result |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) return result;
      }
      throw corrupt(file, "a varint longer than 10 bytes at byte " + pos);
    }

    private String string() throws IOException, ModelException {
      long outer = enter();
      long len = limit - pos;
      if (len > MAX_NAME_BYTES) throw corrupt(file, "a name of " + len + " bytes at byte " + pos + " (limit " + MAX_NAME_BYTES + ")");
      byte[] bytes = in.readNBytes((int) len);
      if (bytes.length != len) throw new EOFException("file ends at byte " + (pos + bytes.length) + " inside a name");
      pos += len;
      leave(outer);
      return new String(bytes, StandardCharsets.UTF_8);
    }

    private int readByte() throws IOException, ModelException {
      if (pos >= limit) throw corrupt(file, "a field runs past the end of its message at byte " + pos);
      int b = in.read();
      if (b < 0) throw new EOFException("file ends at byte " + pos);
      pos++;
      return b;
    }

    private void skipBytes(long n) throws IOException, ModelException {
      if (n > limit - pos) throw corrupt(file, "a field at byte " + pos + " runs past the end of its message");
      long left = n;
      while (left > 0) {
        long s = in.skip(left);
        if (s <= 0) {
          if (in.read() < 0) throw new EOFException("file ends at byte " + (pos + n - left));
          s = 1;
        }
        left -= s;
      }
      pos += n;
    }
  }
}

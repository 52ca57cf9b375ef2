package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Small helpers over the ONNX protobuf classes: tensors to and from Java arrays, attributes, names. */
final class Onnx {
  static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
  static final int INT8 = TensorProto.DataType.INT8_VALUE;
  static final int INT4 = TensorProto.DataType.INT4_VALUE;

  private Onnx() {}

  static ModelProto read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return ModelProto.parseFrom(in);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IOException(file + ": not an ONNX model (" + e.getMessage() + "); pass a .onnx file", e);
    }
  }

  static void write(ModelProto model, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    Files.write(file, model.toByteArray());
  }

  /** The values of a FLOAT tensor, from raw_data or float_data. */
  static float[] floats(TensorProto t) {
    if (t.getDataType() != FLOAT) {
      throw new IllegalArgumentException("initializer '" + t.getName() + "' has data_type " + t.getDataType()
          + ", expected FLOAT (1); only float32 weights can be transformed");
    }
    if (t.hasDataLocation() && t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new IllegalArgumentException("initializer '" + t.getName()
          + "' is stored as external data; save the model with its weights inside the .onnx file");
    }
    long n = count(t.getDimsList());
    float[] v = new float[Math.toIntExact(n)];
    if (!t.getRawData().isEmpty()) {
      ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (b.remaining() != 4L * n) {
        throw new IllegalArgumentException("initializer '" + t.getName() + "' holds " + b.remaining()
            + " raw bytes but its dims " + t.getDimsList() + " need " + 4L * n);
      }
      b.asFloatBuffer().get(v);
    } else {
      if (t.getFloatDataCount() != n) {
        throw new IllegalArgumentException("initializer '" + t.getName() + "' holds " + t.getFloatDataCount()
            + " floats but its dims " + t.getDimsList() + " need " + n);
      }
      for (int i = 0; i < v.length; i++) v[i] = t.getFloatData(i);
    }
    return v;
  }

  static long count(List<Long> dims) {
    long n = 1;
    for (long d : dims) n *= d;
    return n;
  }

  static long[] dims(TensorProto t) {
    return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  static TensorProto floatTensor(String name, long[] dims, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return tensor(name, FLOAT, dims, b.array());
  }

  static TensorProto int8Tensor(String name, long[] dims, byte[] v) {
    return tensor(name, INT8, dims, v);
  }

  /** ONNX INT4: two values per byte, the first in the low nibble (onnx.proto, data_type 22). */
  static TensorProto int4Tensor(String name, long[] dims, byte[] v) {
    byte[] packed = new byte[(v.length + 1) / 2];
    for (int i = 0; i < v.length; i++) {
      int nibble = v[i] & 0x0F;
      packed[i / 2] |= (byte) ((i & 1) == 0 ? nibble : nibble << 4);
    }
    return tensor(name, INT4, dims, packed);
  }

  private static TensorProto tensor(String name, int type, long[] dims, byte[] raw) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type).setRawData(ByteString.copyFrom(raw));
    for (long d : dims) t.addDims(d);
    return t.build();
  }

  static Map<String, TensorProto> initializers(GraphProto g) {
    Map<String, TensorProto> m = new HashMap<>();
    for (TensorProto t : g.getInitializerList()) m.put(t.getName(), t);
    // An initializer that is also a graph input may be overridden at run time: not a constant.
    for (ValueInfoProto in : g.getInputList()) m.remove(in.getName());
    return m;
  }

  static long intAttr(NodeProto n, String name, long dflt) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals(name)) return a.getI();
    }
    return dflt;
  }

  static float floatAttr(NodeProto n, String name, float dflt) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals(name)) return a.getF();
    }
    return dflt;
  }

  static AttributeProto intAttribute(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
  }

  /** Every name used in the graph (tensors, initializers, nodes), so new names can be made unique. */
  static Set<String> names(GraphProto g) {
    Set<String> s = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      s.add(n.getName());
      s.addAll(n.getInputList());
      s.addAll(n.getOutputList());
    }
    for (TensorProto t : g.getInitializerList()) s.add(t.getName());
    for (ValueInfoProto v : g.getInputList()) s.add(v.getName());
    for (ValueInfoProto v : g.getOutputList()) s.add(v.getName());
    for (ValueInfoProto v : g.getValueInfoList()) s.add(v.getName());
    return s;
  }

  static String fresh(Set<String> used, String base) {
    String name = base;
    for (int i = 1; !used.add(name); i++) name = base + "_" + i;
    return name;
  }

  /** Removes initializers no node reads any more (and that are no graph output). */
  static void dropUnused(GraphProto.Builder g) {
    Set<String> read = new HashSet<>();
    for (NodeProto n : g.getNodeList()) read.addAll(n.getInputList());
    for (ValueInfoProto v : g.getOutputList()) read.add(v.getName());
    List<TensorProto> keep = g.getInitializerList().stream().filter(t -> read.contains(t.getName())).toList();
    g.clearInitializer().addAllInitializer(keep);
  }
}

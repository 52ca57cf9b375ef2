package dev.splitrt.quant;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.OnnxRuntimeBackend;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One ONNX Runtime CPU session over an in-memory model with a single float input of fixed shape. */
final class OrtRunner implements AutoCloseable {
  private final OrtEnvironment env = environment();
  private final OrtSession session;
  private final String inputName;
  private final long[] inputShape;
  private final List<String> outputs;

  private static OrtEnvironment environment() {
    try {
      return OnnxRuntimeBackend.environment();
    } catch (InferenceException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  OrtRunner(ModelProto model, int threads) throws OrtException {
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      if (threads > 0) o.setIntraOpNumThreads(threads);
      o.setInterOpNumThreads(1);
      o.addConfigEntry("session.intra_op.allow_spinning", "0");   // the CPU is shared: no busy-waiting
      session = env.createSession(model.toByteArray(), o);
    }
    Set<String> init = Onnx.initializers(model.getGraph()).keySet();
    ValueInfoProto in = model.getGraph().getInputList().stream().filter(v -> !init.contains(v.getName()))
        .findFirst().orElseThrow(() -> new IllegalArgumentException("the model has no graph input"));
    inputName = in.getName();
    List<TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
    inputShape = new long[dims.size()];
    for (int i = 0; i < dims.size(); i++) {
      long d = dims.get(i).getDimValue();
      inputShape[i] = d > 0 ? d : 1;
    }
    outputs = model.getGraph().getOutputList().stream().map(ValueInfoProto::getName).toList();
  }

  long inputElements() {
    long n = 1;
    for (long d : inputShape) n *= d;
    return n;
  }

  List<String> outputNames() {
    return outputs;
  }

  /** All graph outputs, in graph order, as float arrays. */
  List<float[]> run(float[] input) throws OrtException {
    return run(FloatBuffer.wrap(input));
  }

  List<float[]> run(FloatBuffer input) throws OrtException {
    try (OnnxTensor t = OnnxTensor.createTensor(env, input.duplicate().rewind(), inputShape);
         OrtSession.Result r = session.run(Map.of(inputName, t))) {
      List<float[]> out = new ArrayList<>(outputs.size());
      for (int i = 0; i < outputs.size(); i++) {
        OnnxValue v = r.get(i);
        FloatBuffer fb = ((OnnxTensor) v).getFloatBuffer();
        float[] a = new float[fb.remaining()];
        fb.get(a);
        out.add(a);
      }
      return out;
    }
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}

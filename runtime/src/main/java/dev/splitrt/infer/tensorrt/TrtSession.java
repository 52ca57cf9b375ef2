package dev.splitrt.infer.tensorrt;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreate;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import dev.splitrt.infer.InferenceException;
import dev.splitrt.infer.InferenceSession;
import dev.splitrt.infer.ModelPartRef;
import dev.splitrt.infer.TensorSpec;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer.DataType;
import org.bytedeco.tensorrt.global.nvinfer.ExecutionContextAllocationStrategy;
import org.bytedeco.tensorrt.global.nvinfer.TensorIOMode;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;

/**
 * One engine, one execution context, one CUDA stream. Everything is allocated when the session
 * opens: device input/output buffers, the context's scratch memory (user-managed, so closing the
 * session really returns it), and pinned host buffers ({@code cudaMallocHost}) that ARE the
 * {@link #input()} and output {@link FloatBuffer}s: a run is two async copies, {@code enqueueV3},
 * one stream sync, and no allocation. The session owns every native object it holds; close is idempotent.
 */
final class TrtSession implements InferenceSession {
  private final String name;
  private final TensorSpec inSpec;
  private final TensorSpec outSpec;
  private final TrtRuntime rt;
  private ICudaEngine engine;
  private IExecutionContext context;
  private CUstream_st stream;
  private Pointer scratch;
  private Pointer dIn;
  private Pointer dOut;
  private Pointer hIn;
  private Pointer hOut;
  private final FloatBuffer input;
  private final FloatBuffer output;
  private final long inBytes;
  private final long outBytes;
  private boolean closed;

  TrtSession(TrtRuntime rt, ICudaEngine engine, ModelPartRef part, String precision) throws InferenceException {
    this.rt = rt;
    this.engine = engine;
    this.name = "tensorrt-" + precision;
    this.inSpec = part.input();
    this.outSpec = part.output();
    this.inBytes = 4L * inSpec.elementCount();
    this.outBytes = 4L * outSpec.elementCount();
    try {
      checkSignature(part);
      context = engine.createExecutionContext(ExecutionContextAllocationStrategy.kUSER_MANAGED);
      if (context == null || context.isNull()) throw new InferenceException("TensorRT could not create an execution context for "
          + part.file() + ": " + rt.logger.lastErrors());
      long scratchBytes = engine.getDeviceMemorySizeV2();
      if (scratchBytes > 0) {
        scratch = new Pointer();
        Cuda.check(cudaMalloc(scratch, scratchBytes), "cudaMalloc(context memory " + scratchBytes + " bytes)");
        context.setDeviceMemoryV2(scratch, scratchBytes);
      }
      stream = new CUstream_st();
      Cuda.check(cudaStreamCreate(stream), "cudaStreamCreate");
      dIn = new Pointer();
      Cuda.check(cudaMalloc(dIn, inBytes), "cudaMalloc(input)");
      dOut = new Pointer();
      Cuda.check(cudaMalloc(dOut, outBytes), "cudaMalloc(output)");
      hIn = new Pointer();
      Cuda.check(cudaMallocHost(hIn, inBytes), "cudaMallocHost(input)");
      hOut = new Pointer();
      Cuda.check(cudaMallocHost(hOut, outBytes), "cudaMallocHost(output)");
      if (!context.setTensorAddress(inSpec.name(), dIn) || !context.setTensorAddress(outSpec.name(), dOut)) {
        throw new InferenceException("TensorRT refused the tensor addresses for " + inSpec + " / " + outSpec + ": " + rt.logger.lastErrors());
      }
      input = view(hIn, inBytes);
      output = view(hOut, outBytes);
    } catch (InferenceException | RuntimeException e) {
      close();
      if (e instanceof Cuda.CudaException) throw new InferenceException(part.file() + ": " + e.getMessage(), e);
      throw e;
    }
  }

  private static FloatBuffer view(Pointer host, long bytes) {
    return new BytePointer(host).capacity(bytes).limit(bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  private void checkSignature(ModelPartRef part) throws InferenceException {
    int n = engine.getNbIOTensors();
    if (n != 2) throw new InferenceException(part.file() + ": the engine has " + n + " I/O tensors; SplitRT v1 parts have one input and one output");
    for (int i = 0; i < n; i++) {
      String t = engine.getIOTensorName(i);
      boolean isInput = engine.getTensorIOMode(t).value == TensorIOMode.kINPUT.value;
      TensorSpec want = isInput ? inSpec : outSpec;
      int[] shape = dims(engine.getTensorShape(t));
      if (!t.equals(want.name()) || !Arrays.equals(shape, want.shape())) {
        throw new InferenceException(part.file() + ": engine " + (isInput ? "input" : "output") + " is " + t + Arrays.toString(shape)
            + " but the manifest says " + want + "; fix the manifest or re-export the model");
      }
      if (engine.getTensorDataType(t).value != DataType.kFLOAT.value) {
        throw new InferenceException(part.file() + ": engine tensor " + t + " is not float32; SplitRT parts exchange float32 tensors");
      }
    }
  }

  private static int[] dims(Dims64 d) {
    int[] r = new int[d.nbDims()];
    for (int k = 0; k < r.length; k++) r[k] = Math.toIntExact(d.d(k));
    return r;
  }

  @Override
  public TensorSpec inputSpec() {
    return inSpec;
  }

  @Override
  public TensorSpec outputSpec() {
    return outSpec;
  }

  @Override
  public FloatBuffer input() {
    return input;
  }

  @Override
  public FloatBuffer run() throws InferenceException {
    if (closed) throw new IllegalStateException("session " + name + " for " + inSpec + " is closed");
    try {
      Cuda.check(cudaMemcpyAsync(dIn, hIn, inBytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(input)");
      if (!context.enqueueV3(stream)) throw new InferenceException("enqueueV3 failed: " + rt.logger.lastErrors());
      Cuda.check(cudaMemcpyAsync(hOut, dOut, outBytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(output)");
      Cuda.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    } catch (Cuda.CudaException e) {
      throw new InferenceException(name + ": " + e.getMessage(), e);
    }
    output.clear();
    return output;
  }

  @Override
  public String backendName() {
    return name;
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (stream != null) cudaStreamSynchronize(stream);
    // Context before engine (TensorRT requires it); JavaCPP's deallocate() only drops the Java handle
    // for TensorRT interfaces (javacpp-presets#1699); the memory that matters (buffers, scratch) is ours.
    if (context != null) context.deallocate();
    context = null;
    if (engine != null) engine.deallocate();
    engine = null;
    if (dIn != null) cudaFree(dIn);
    if (dOut != null) cudaFree(dOut);
    if (scratch != null) cudaFree(scratch);
    if (hIn != null) cudaFreeHost(hIn);
    if (hOut != null) cudaFreeHost(hOut);
    dIn = dOut = scratch = hIn = hOut = null;
    if (stream != null) cudaStreamDestroy(stream);
    stream = null;
  }
}

/**
 * The TensorRT backend ({@link dev.splitrt.infer.tensorrt.TensorRtBackend}): ONNX to engine through
 * the ONNX parser with builder settings from the device profile, a content-keyed engine cache, and
 * sessions that run {@code enqueueV3} on their own CUDA stream with pinned host buffers.
 */
package dev.splitrt.infer.tensorrt;

/** The inference backend SPI ({@link dev.splitrt.infer.InferenceBackend}), backend selection, and the ONNX Runtime (CPU) backend. */
package dev.splitrt.infer;

/**
 * Quantization toolchain on ONNX protobuf, in Java: {@link dev.splitrt.quant.SplitQuant} (k-means
 * layer splitting, function-preserving), {@link dev.splitrt.quant.WeightQuantizer} (per-channel
 * symmetric INT8/INT4/INT2 weights as DequantizeLinear), {@link dev.splitrt.quant.Calibrator} (INT8
 * activation ranges with ONNX Runtime: max, percentile, entropy; full Q/DQ models for TensorRT's
 * explicit quantization), {@link dev.splitrt.quant.Quantization} (one CLI run) and
 * {@link dev.splitrt.quant.WeightsTable} (the model card's weights table).
 */
package dev.splitrt.quant;

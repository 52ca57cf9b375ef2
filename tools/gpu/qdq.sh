#!/bin/bash
# Dev box: the INT8 Q/DQ heads of the GPU proof, made by the project's own quantizer (ONNX Runtime CPU here),
# with the calibration each model card recommends (first 64 eval frames):
#   fs-bottlefit-cls   entropy     (max and entropy both 92.67 % on the 300 eval frames, percentile 92.00 %)
#   fs-leyolo-nano-det percentile  (max calibration fails on the SiLU stem: 82.53 % mAP@0.5 vs 85.98 %)
# Output: OUT/<model>.head-int8.onnx and OUT/<model>.head-int8.txt (the command and its report).
# Usage: tools/gpu/qdq.sh [OUT]   (default /tmp/trtqdq; builds the default profile on first use via tools/splitrt)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd); OUT=${1:-/tmp/trtqdq}; mkdir -p "$OUT"
for m in fs-bottlefit-cls:entropy fs-leyolo-nano-det:percentile; do
  id=${m%%:*}; cal=${m##*:}
  cmd=(quantize --model "$id" --part head --activations int8 --calibration "$cal" --frames 64 --out "$OUT/$id.head-int8.onnx")
  { echo "splitrt ${cmd[*]}"; "$SRC/tools/splitrt" "${cmd[@]}"; } 2>&1 | tee "$OUT/$id.head-int8.txt"
done
sha256sum "$OUT"/*.onnx

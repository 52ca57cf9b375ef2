#!/bin/bash
# GPU host side of the TensorRT proof. Run from the checkout root after every piece is in /tmp/trt/pieces
# (tools/gpu/README.md): bash .gpu-carry/s/trt-run.sh .gpu-carry/s OUT_DIR
# 1. eval frames preprocessed + ONNX Runtime CPU references (python3, onnxruntime, opencv on the host)
# 2. TrtRun build   - fp32/fp16 engines for head+tail of both zoo models, reference diffs, eval outputs, latency
# 3. TrtRun reuse   - a second JVM: every engine must be a cache hit
# 4. TrtRun corrupt - two cached engines damaged, a third JVM must rebuild them and still match
# 5. scores (top-1 agreement, mAP) into OUT_DIR/score.json
set -o pipefail
C=$(cd "$1" && pwd); OUT=$2; REPO=$(pwd); W=/tmp/trt
mkdir -p "$OUT" $W/view $W/eval $W/engines
ln -sfn "$REPO/models" $W/view/models; ln -sfn "$C/device-profiles" $W/view/device-profiles
CP="$C/classes:$C/conf:$C/jars/*:$W/jars/*"
LOG=$OUT/run.log
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; uname -a; } 2>&1 | tee -a $LOG
step() { echo "=== $* ($(date +%T))" | tee -a $LOG; }
step prep
[ -f $W/eval/fs-leyolo-nano-det.ort.f32 ] || PYTHONUNBUFFERED=1 SPLITRT_REPO=$REPO python3 "$C/trt_eval.py" prep $W/eval 2>&1 | tee -a $LOG
for phase in build reuse corrupt; do
  step "TrtRun $phase"
  s=$(date +%s%N)
  bash "$C/go.sh" -Xmx8g -cp "$CP" TrtRun $phase $W/view $W/engines $W/eval "$OUT/$phase.json" 2>&1 | tee -a $LOG
  echo "TrtRun $phase rc=$? wall $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a $LOG
done
step "splitrt engine build (CLI)"
bash "$C/go.sh" -Dsplitrt.repo=$W/view -cp "$CP" dev.splitrt.cli.EngineMain build --model fs-bottlefit-cls --part head \
  --precision fp16 --rebuild --layers --bench 2000 --cache $W/engines 2>&1 | tee -a $LOG
bash "$C/go.sh" -Dsplitrt.repo=$W/view -cp "$CP" dev.splitrt.cli.EngineMain build --model fs-leyolo-nano-det --part tail \
  --precision fp16 --bench 2000 --cache $W/engines 2>&1 | tee -a $LOG
ls -la $W/engines | tee -a $LOG
step score
PYTHONUNBUFFERED=1 SPLITRT_REPO=$REPO python3 "$C/trt_eval.py" score $W/eval "$OUT/score.json" 2>&1 | tee -a $LOG

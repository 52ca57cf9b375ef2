#!/bin/bash
# GPU host side of the TensorRT proof. Run from the checkout root after every piece is in /tmp/trt/pieces
# (tools/gpu/README.md): bash CARRY/s/trt-run.sh CARRY/s OUT_DIR
# 0. the checkout's zoo files must be the ones stage.sh summed (the staged commit's)
# 1. eval frames preprocessed + ONNX Runtime CPU references, FP32 and INT8 Q/DQ heads (python3, onnxruntime, opencv)
# 2. TrtRun build   - fp32/fp16 engines for head+tail of both zoo models, int8 Q/DQ heads (+ fp32 tail),
#                     reference diffs, eval outputs, latency, inspector JSON
# 3. TrtRun reuse   - a second JVM: every engine must be a cache hit
# 4. TrtRun corrupt - two cached engines damaged (cls head fp32 truncated, cls head int8 random bytes with a
#                     matching checksum), a third JVM must rebuild them and still match
# 5. splitrt engine build (CLI): fp16 rebuild with layers, cache hits with latency, the INT8 Q/DQ heads, and the
#    user error (int8 of the FP32 head) that must be one line and exit code 1
# 6. scores (top-1 agreement, mAP) into OUT_DIR/score.json; inspector JSON into OUT_DIR/inspect.tar.gz
# STEPS (default "build reuse corrupt cli"): the steps after prep to run, for a short device budget;
# TRTRUN_OPTS: JVM options for TrtRun, e.g. -Dtrtrun.headOnly=fp16 (FP16 rows time the heads only).
set -o pipefail
C=$(cd "$1" && pwd); OUT=$2; REPO=$(pwd); W=/tmp/trt; STEPS=${STEPS:-build reuse corrupt cli}
mkdir -p "$OUT" $W/view $W/eval $W/engines $W/inspect
ln -sfn "$REPO/models" $W/view/models; ln -sfn "$C/device-profiles" $W/view/device-profiles
CP="$C/classes:$C/conf:$C/jars/*:$W/jars/*"
LOG=$OUT/run.log
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; uname -a; echo "staged from commit $(cat "$C/source-commit.txt")"; } 2>&1 | tee -a $LOG
step() { echo "=== $* ($(date +%T))" | tee -a $LOG; }
step "zoo files vs the staged commit"
if sha256sum --quiet -c "$C/zoo-sums.txt" 2>&1 | tee -a $LOG; then echo "zoo files: all $(wc -l < "$C/zoo-sums.txt") match" | tee -a $LOG
else echo "zoo files: MISMATCH (the sent checkout is not the staged commit's zoo)" | tee -a $LOG; fi
step prep
[ -f $W/eval/fs-leyolo-nano-det.ort.f32 ] || PYTHONUNBUFFERED=1 SPLITRT_REPO=$REPO SPLITRT_QDQ="$C/qdq" python3 "$C/trt_eval.py" prep $W/eval 2>&1 | tee -a $LOG
for phase in build reuse corrupt; do
  case " $STEPS " in *" $phase "*) ;; *) echo "=== TrtRun $phase: not in STEPS, skipped" | tee -a $LOG; continue;; esac
  step "TrtRun $phase"
  s=$(date +%s%N)
  bash "$C/go.sh" -Xmx8g ${TRTRUN_OPTS:-} -cp "$CP" TrtRun $phase $W/view $W/engines $W/eval "$OUT/$phase.json" "$C/qdq" $([ $phase = build ] && echo $W/inspect) 2>&1 | tee -a $LOG
  echo "TrtRun $phase rc=$? wall $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a $LOG
done
cli() {
step "splitrt engine build (CLI)"
E() { bash "$C/go.sh" -Dsplitrt.repo=$W/view -cp "$CP" dev.splitrt.cli.EngineMain build --cache $W/engines "$@"; }
E --model fs-bottlefit-cls --part head --precision fp16 --rebuild --layers --bench 2000 2>&1 | tee -a $LOG
E --model fs-leyolo-nano-det --part tail --precision fp32 --bench 2000 2>&1 | tee -a $LOG
for id in fs-bottlefit-cls fs-leyolo-nano-det; do
  E --model $id --part head --precision int8 --onnx "$C/qdq/$id.head-int8.onnx" --layers --bench 2000 2>&1 | tee -a $LOG
done
step "user error: int8 engine of the FP32 head (must be one line on stderr, exit code 1)"
E --model fs-bottlefit-cls --part head --precision int8 > $W/usererr.out 2> $W/usererr.err; rc=$?
cat $W/usererr.out $W/usererr.err | tee -a $LOG
echo "user error: rc=$rc, stderr lines $(wc -l < $W/usererr.err), stack frames $(grep -c '^\s*at ' $W/usererr.err)" | tee -a $LOG
}
case " $STEPS " in *" cli "*) cli;; *) echo "=== CLI: not in STEPS, skipped" | tee -a $LOG;; esac
ls -la $W/engines | tee -a $LOG
step score
PYTHONUNBUFFERED=1 SPLITRT_REPO=$REPO python3 "$C/trt_eval.py" score $W/eval "$OUT/score.json" 2>&1 | tee -a $LOG
tar -czf "$OUT/inspect.tar.gz" -C $W inspect
step done

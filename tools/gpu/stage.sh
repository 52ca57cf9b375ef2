#!/bin/bash
# Dev box side of the GPU proof: stage what tools/gpu/trt-run.sh needs into CARRY, a folder of the checkout that
# the device tool sends (git-ignored there, e.g. through .git/info/exclude), for a checkout whose runtime was compiled with
#   mvn -B -q -P jetpack6 -pl runtime -am compile        (JavaCPP 1.5.11 = TensorRT 10.6 + CUDA 12.6)
# the TensorRT/JRE pack made by tools/gpu/pack.sh (PACK, default /tmp/trtpack) and the INT8 Q/DQ heads made by
#   tools/gpu/qdq.sh QDQ                                (QDQ, default /tmp/trtqdq; skipped with a note when absent)
# CARRY/s   = classes, jars, scripts, Q/DQ heads, sums of the zoo files the run reads (checked there: the device
#             tool sends the checkout it was started in, which must hold the same models as this one)
# CARRY/p/* = the pack re-split into PIECE_BYTES pieces (default 22 MB: one piece + the ~41 MB checkout per 64 MiB call)
# Usage: tools/gpu/stage.sh CARRY [PACK] [QDQ]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
C=${1:?usage: stage.sh CARRY [PACK] [QDQ]}; PACK=${2:-/tmp/trtpack}; QDQ=${3:-/tmp/trtqdq}; M2=${M2:-$HOME/.m2/repository}
rm -rf "$C/s" "$C/p"; mkdir -p "$C/s/classes" "$C/s/jars" "$C/s/conf" "$C/s/bin" "$C/s/qdq" "$C/p"
cp -r "$SRC/runtime/target/classes/." "$C/s/classes/"
cp -r "$SRC/device-profiles" "$C/s/"
for j in com/fasterxml/jackson/core/jackson-databind/2.22.4/jackson-databind-2.22.4.jar \
         com/fasterxml/jackson/core/jackson-core/2.22.4/jackson-core-2.22.4.jar \
         com/fasterxml/jackson/core/jackson-annotations/2.22/jackson-annotations-2.22.jar \
         com/fasterxml/jackson/dataformat/jackson-dataformat-yaml/2.22.4/jackson-dataformat-yaml-2.22.4.jar \
         org/slf4j/slf4j-api/2.0.20/slf4j-api-2.0.20.jar \
         ch/qos/logback/logback-classic/1.6.6/logback-classic-1.6.6.jar ch/qos/logback/logback-core/1.6.6/logback-core-1.6.6.jar \
         info/picocli/picocli/4.7.7/picocli-4.7.7.jar; do
  cp "$M2/$j" "$C/s/jars/"; done
cp "$(find "$M2/org/yaml/snakeyaml" -name 'snakeyaml-*.jar' | sort | tail -1)" "$C/s/jars/"
# No onnxruntime jar on purpose: backend discovery must skip OnnxRuntimeBackend and still find TensorRT.
JCP=$(ls "$PACK"/jars/*.jar | tr '\n' ':')
javac -proc:none -d "$C/s/classes" -cp "$C/s/classes:$C/s/jars/*:$JCP" "$SRC/tools/gpu/TrtRun.java" "$SRC/tools/gpu/EngineMain.java" \
  "$SRC/tools/src/main/java/dev/splitrt/cli/EngineCommand.java" "$SRC/tools/src/main/java/dev/splitrt/cli/RepoPaths.java" \
  "$SRC/tools/src/main/java/dev/splitrt/cli/Errors.java"
cp "$SRC/tools/gpu/trt-run.sh" "$SRC/models/recipes/trt_eval.py" "$SRC/tools/gpu/recv.sh" "$SRC/tools/gpu/go.sh" "$C/s/"
cp "$(command -v zstd)" "$C/s/bin/zstd"
cat > "$C/s/conf/logback.xml" <<'XML'
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
XML
if ls "$QDQ"/*.onnx >/dev/null 2>&1; then cp "$QDQ"/*.onnx "$QDQ"/*.txt "$C/s/qdq/" 2>/dev/null || cp "$QDQ"/*.onnx "$C/s/qdq/"; else echo "no Q/DQ heads in $QDQ: the run skips INT8 (make them with tools/gpu/qdq.sh)"; fi
# The zoo files the run reads from the sent checkout, as this checkout has them (trt-run.sh checks them there).
(cd "$SRC" && git rev-parse HEAD > "$C/s/source-commit.txt" && git ls-files models device-profiles \
  | grep -E '^(models/recipes/|models/fs-[^/]+/(model\.yaml|head\.onnx|tail\.onnx|reference/|eval/))' \
  | grep -v '^models/recipes/trt_eval.py$' | xargs sha256sum > "$C/s/zoo-sums.txt")   # trt_eval.py itself is carried
PB=${PIECE_BYTES:-22000000}
split -b "$PB" -d -a 2 "$PACK/pieces/a.tar.zst" "$C/p/a."
split -b "$PB" -d -a 2 "$PACK/pieces/b.zst" "$C/p/b."
du -sh "$C/s" "$C/p"; ls "$C/p" | tr '\n' ' '; echo

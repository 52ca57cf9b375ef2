#!/bin/bash
# Dev box side of the GPU proof: stage what tools/gpu/trt-run.sh needs into CARRY (default
# <checkout>/.gpu-carry, git-ignored), for a checkout whose runtime was compiled with
#   mvn -B -q -P jetpack6 -pl runtime -am compile        (JavaCPP 1.5.11 = TensorRT 10.6 + CUDA 12.6)
# and the TensorRT/JRE pieces made by tools/gpu/pack.sh (PACK, default /tmp/trtpack).
# Usage: tools/gpu/stage.sh [CARRY] [PACK]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
C=${1:-$SRC/.gpu-carry}; PACK=${2:-/tmp/trtpack}; M2=${M2:-$HOME/.m2/repository}
rm -rf "$C/s"; mkdir -p "$C/s/classes" "$C/s/jars" "$C/s/conf" "$C/p"
cp -r "$SRC/runtime/target/classes/." "$C/s/classes/"
cp -r "$SRC/device-profiles" "$C/s/"
for j in com/fasterxml/jackson/core/jackson-databind/2.22.4/jackson-databind-2.22.4.jar \
         com/fasterxml/jackson/core/jackson-core/2.22.4/jackson-core-2.22.4.jar \
         com/fasterxml/jackson/core/jackson-annotations/2.22/jackson-annotations-2.22.jar \
         com/fasterxml/jackson/dataformat/jackson-dataformat-yaml/2.22.4/jackson-dataformat-yaml-2.22.4.jar \
         org/slf4j/slf4j-api/2.0.20/slf4j-api-2.0.20.jar \
         ch/qos/logback/logback-classic/1.6.6/logback-classic-1.6.6.jar ch/qos/logback/logback-core/1.6.6/logback-core-1.6.6.jar; do
  cp "$M2/$j" "$C/s/jars/"; done
cp "$(find "$M2/org/yaml/snakeyaml" -name 'snakeyaml-*.jar' | sort | tail -1)" "$C/s/jars/"
JCP=$(ls "$PACK"/jars/*.jar | tr '\n' ':')
cp "$M2/info/picocli/picocli/4.7.7/picocli-4.7.7.jar" "$C/s/jars/"
javac -proc:none -d "$C/s/classes" -cp "$C/s/classes:$C/s/jars/*:$JCP" "$SRC/tools/gpu/TrtRun.java" "$SRC/tools/gpu/EngineMain.java" \
  "$SRC/tools/src/main/java/dev/splitrt/cli/EngineCommand.java" "$SRC/tools/src/main/java/dev/splitrt/cli/RepoPaths.java"
cp "$SRC/tools/gpu/trt-run.sh" "$SRC/models/recipes/trt_eval.py" "$SRC/tools/gpu/recv.sh" "$SRC/tools/gpu/go.sh" "$C/s/"
cat > "$C/s/conf/logback.xml" <<'XML'
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
XML
# Each device call carries the whole checkout (~29 MB with the model zoo) plus what `carry` names, 64 MiB at most:
# re-split pack.sh's 62 MB pieces so one piece + the checkout fits (PIECE_BYTES, default 36 MB).
PB=${PIECE_BYTES:-36000000}
rm -f "$C/p/"*
cat "$PACK"/pieces/a.* | split -b "$PB" -d -a 2 - "$C/p/a."
cat "$PACK"/pieces/b.* | split -b "$PB" -d -a 2 - "$C/p/b."
du -sh "$C/s" "$C/p"; ls "$C/p"

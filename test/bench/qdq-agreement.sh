#!/usr/bin/env bash
# Agreement of ONNX Runtime on the emitted QDQ models with mu-run on the same
# target's .mub: top-1 after every prefix of 512 teacher-forced emma.txt
# tokens (stories3m, the 28.9M random micro LM) and every decoder step of
# the first 200 mu-settings dev requests. Prints one table row per model,
# target and scheme (the numbers in docs/qdq-onnx.md).
#   test/bench/qdq-agreement.sh [BUILD_DIR]   (needs tools/install-npm-deps.sh)
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${MU_SHARED_DIR:-$SRC/../shared}
W=$B/bench/qdq-agreement
mkdir -p "$W"
RUN="env NODE_PATH=$B/npm/node_modules node $SRC/tools/mu-qdq-run.js"
TEXT=$SHARED/data/text/emma.txt
CALIB="--calib $SHARED/data/text/prideprejudice.txt --calib-seqs 32 --calib-len 256"
if [ ! -f "$B/bench/speed/micro/model.safetensors" ]; then
  /usr/bin/python3 "$SRC/tools/mu-gen-checkpoint.py" --shape micro --out "$B/bench/speed/micro" >/dev/null
fi
cp -n "$SHARED/models/microlm-tokenizer/tokenizer.json" "$SHARED/models/microlm-tokenizer/tokenizer_config.json" "$B/bench/speed/micro/" 2>/dev/null || true
printf "| model | target | scheme | float | ORT optimizer | agreement |\n|---|---|---|---|---|---|\n"
row() { # model-path label target float opt [mu-compile args...]
  local m=$1 label=$2 t=$3 fl=$4 opt=$5; shift 5
  local d=$W/$label-$t-$(echo "$fl $*" | tr -c 'a-z0-9' '_')
  mkdir -p "$d"
  local emu=""; [ "$fl" = emulated ] && emu=--qdq-emulate-float
  [ -f "$d/m.mub" ] || "$B/tools/mu-compile" "$m" --target "$t" "$@" -o "$d/m.mub" 2>/dev/null
  [ -d "$d/qdq" ] || "$B/tools/mu-compile" "$m" --target "$t" "$@" $emu --emit=qdq-onnx -o "$d/qdq" 2>/dev/null
  local scheme; scheme=$(/usr/bin/python3 -c "import json; print(json.load(open('$d/qdq/mu-qdq.json'))['scheme'])")
  if [ "$label" = mu-settings ]; then
    "$B/tools/mu-run" "$d/m.mub" --teacher-forced "$SHARED/models/mu-settings/dev.jsonl" --teacher-tokens 200 > "$d/mub.json"
    MU_ORT_OPT=$opt $RUN "$d/qdq" --seq2seq "$d/mub.json" > "$d/ort.json"
  else
    "$B/tools/mu-run" "$d/m.mub" --teacher-forced "$TEXT" > "$d/mub.json"
    MU_ORT_OPT=$opt $RUN "$d/qdq" --teacher "$d/mub.json" > "$d/ort.json"
  fi
  local a; a=$(/usr/bin/python3 "$SRC/test/E2E/qdq_agreement.py" "$d/mub.json" "$d/ort.json" --min 0 | sed 's/.*: //')
  echo "| $label | $t | $scheme | $fl | $opt | $a |"
}
S3=$SHARED/models/stories3m/model.safetensors
MICRO=$B/bench/speed/micro/model.safetensors
MU=$SHARED/models/mu-settings/model.safetensors
for t in cpu cpu-x86 cpu-arm; do row "$S3" stories3m $t fp32 all; done
row "$S3" stories3m hexagon-htp emulated all $CALIB
row "$S3" stories3m hexagon-htp fp32 all $CALIB
row "$S3" stories3m intel-npu emulated all
row "$S3" stories3m intel-npu fp32 all
row "$S3" stories3m amd-xdna emulated all
row "$S3" stories3m amd-xdna emulated disabled
row "$S3" stories3m amd-xdna fp32 all
row "$S3" stories3m hexagon-htp emulated all $CALIB --quant=w8a8
row "$S3" stories3m hexagon-htp emulated disabled $CALIB --quant=w8a8
row "$S3" stories3m cpu fp32 all $CALIB --quant=w8a8
row "$S3" stories3m cpu fp32 all $CALIB --quant=w8a16
for t in cpu hexagon-htp intel-npu amd-xdna; do
  a=""; [ $t = hexagon-htp ] && a="--quant=w8"
  row "$MICRO" micro-lm $t emulated all $a
done
for t in cpu intel-npu amd-xdna; do row "$MU" mu-settings $t emulated all; done
row "$MU" mu-settings hexagon-htp emulated all --quant=w8
# Calibrated encoder-decoder schemes (first 256 dev lines).
MUCAL="--calib $SHARED/models/mu-settings/dev.jsonl --calib-seqs 256"
row "$MU" mu-settings hexagon-htp emulated all --quant=w8a16 $MUCAL
row "$MU" mu-settings cpu fp32 all --quant=w8a8 $MUCAL
row "$MU" mu-settings amd-xdna emulated all --quant=w8a8 $MUCAL

#!/usr/bin/env bash
# Encoder-decoder PTQ on the real Mu-architecture Settings model: calibrate
# on the first 256 lines of dev.jsonl, evaluate on the other 244 (greedy
# exact match, and teacher-forced top-1 agreement / KL against the FP32
# artifact). One table row per target and scheme (the numbers in
# docs/quantization.md).
#   test/bench/mu-settings-ptq.sh [BUILD_DIR]
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${MU_SHARED_DIR:-$SRC/../shared}
M=$SHARED/models/mu-settings
W=$B/bench/mu-settings-ptq
mkdir -p "$W"
DEV=$M/dev.jsonl
"$B/tools/mu-compile" "$M/model.safetensors" -o "$W/fp.mub" 2>/dev/null
printf "| target | scheme | options | exact match (244 held out) | top-1 vs FP32 | mean KL | compile s |\n|---|---|---|---|---|---|---|\n"
row() { # target scheme [mu-compile args...]
  local t=$1 q=$2; shift 2
  local f=$W/$t-$q-$(echo "$*" | tr -c 'a-z0-9' '_').mub
  local args=(--target "$t")
  [ "$q" = none ] || args+=(--quant="$q" --calib "$DEV" --calib-seqs 256)
  local t0; t0=$(date +%s.%N)
  "$B/tools/mu-compile" "$M/model.safetensors" "${args[@]}" "$@" -o "$f" 2>/dev/null
  local dt; dt=$(echo "$(date +%s.%N) - $t0" | bc)
  "$B/tools/mu-run" "$f" --eval "$DEV" --eval-skip 256 --compare "$W/fp.mub" --json |
    /usr/bin/python3 -c "
import json, sys
r = json.load(sys.stdin); c = r['compare']
print('| $t | $q | ${*:-} | %d/%d = %.2f%% | %.2f%% | %.2e | %.1f |' % (r['exact'], r['examples'],
      100 * r['accuracy'], 100 * c['top1_agreement'], c['mean_kl'], $dt))"
}
row cpu none
row cpu w8
row cpu w8a16
row cpu w8a8
row cpu w8a8 --smooth-quant=0.5
row cpu w8a8 --mixed-precision
row cpu w8a8 --weight-rounding=nearest
row cpu w16a16
row hexagon-htp w8a16
row hexagon-htp w8a8
row intel-npu w8a16
row intel-npu w8a8
row amd-xdna w8a16
row amd-xdna w8a8

#!/usr/bin/env bash
# Executor speed benchmark (not a test: it prints numbers, asserts nothing).
# For the micro-LM 28M shape (random weights from the generator) and
# stories3m (../shared, if present), in fp16-weight float, w8, w8a8 and w8a16,
# and the Mu 332M encoder-decoder shape in float and w8,
# with 1 and 2 threads: TTFT of a 64-token prompt and decode tokens/s over
# 128 tokens (best of 3), peak RSS; then the measured read bandwidth, the
# bytes streamed per decoded token (the artifact's weights) and the decode
# roofline with the fraction reached. Then ONNX Runtime 1.30 (npm
# onnxruntime-node, CPU provider, installed into BUILD_DIR/bench/ort on
# first use) runs the same ONNX checkpoints' whole-sequence graph on the
# same 64-token prompt, next to mu-run's float TTFT.
#   test/bench/decode-speed.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build}
T=$B/tools
W=$B/bench/speed
PY=/usr/bin/python3
mkdir -p "$W"
SHARED=../shared
# ONNX checkpoints, so ONNX Runtime runs exactly the same weights.
if [ ! -f "$W/micro/model.onnx" ]; then
  $PY tools/mu-gen-checkpoint.py --shape micro --format onnx --out "$W/micro" >/dev/null
  if [ -d $SHARED/models/microlm-tokenizer ]; then cp $SHARED/models/microlm-tokenizer/tokenizer*.json "$W/micro/"; fi
fi
CALIB=$SHARED/data/text/prideprejudice.txt
# name:checkpoint:schemes
models=("micro:$W/micro/model.onnx:fp,w8,w8a8,w8a16")
if [ -f $SHARED/models/stories3m/model.onnx ]; then
  models+=("stories3m:$SHARED/models/stories3m/model.onnx:fp,w8,w8a8,w8a16")
fi
# The Mu encoder-decoder shape (332M, random weights): float, weight-only int8
# and the activation schemes, calibrated on 8 mu-settings dev requests (the
# random checkpoint has no tokenizer: stories3m's is embedded for them).
if [ ! -f "$W/mu330m/model.safetensors" ]; then
  $PY tools/mu-gen-checkpoint.py --shape mu --format safetensors --out "$W/mu330m" >/dev/null
fi
MU_SETTINGS=$SHARED/models/mu-settings
if [ -f "$MU_SETTINGS/dev.jsonl" ]; then
  models+=("mu330m:$W/mu330m/model.safetensors:fp,w8,w8a8,w8a16")
else
  models+=("mu330m:$W/mu330m/model.safetensors:fp,w8")
fi
IDS=$(seq 10 73 | tr '\n' ' ')
echo "kernels: $($T/mu-run --help >/dev/null; echo auto) | cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
$T/mu-membw 2 | tee "$W/membw.txt"
BW2=$(awk '/threads 2/ {print $4}' "$W/membw.txt")
BW1=$(awk '/threads 1/ {print $4}' "$W/membw.txt")
printf "\n%-10s %-6s %-3s %9s %9s %11s %9s %8s %10s %9s\n" model scheme thr ttft_ms cold_ms decode_tok_s rss_MB MB/token roofline reached
for entry in "${models[@]}"; do
  IFS=: read -r name ckpt schemes <<<"$entry"
  # Encoder-decoder: fewer decode steps (slow), no roofline (the encoder's
  # weights are not read per decoded token).
  steps=129; reps=3; encdec=0
  if [ "$name" = mu330m ]; then steps=33; reps=2; encdec=1; fi
  for scheme in ${schemes//,/ }; do
    art="$W/$name-$scheme.mub"
    if [ ! -f "$art" ]; then
      if [ $scheme = fp ]; then
        $T/mu-compile "$ckpt" -o "$art" >/dev/null
      elif [ $scheme = w8 ]; then
        $T/mu-compile "$ckpt" --quant=w8 -o "$art" >/dev/null
      elif [ "$name" = mu330m ]; then
        $T/mu-compile "$ckpt" --quant=$scheme --tokenizer $SHARED/models/stories3m/tokenizer.json \
          --calib "$MU_SETTINGS/dev.jsonl" --calib-seqs 8 -o "$art" >/dev/null
      elif [ -f "$CALIB" ]; then
        $T/mu-compile "$ckpt" --quant=$scheme --calib "$CALIB" --calib-seqs 8 --calib-len 128 -o "$art" >/dev/null
      else
        continue
      fi
    fi
    mb=$(stat -c %s "$art" | awk '{printf "%.1f", $1/1e6}')
    for thr in 1 2; do
      best=$($PY - "$T/mu-run" "$art" "$thr" "$IDS" "$steps" "$reps" <<'PYEOF'
import json, subprocess, sys
run, art, thr, ids, steps, reps = sys.argv[1:]
res = []
for _ in range(int(reps)):
    out = subprocess.run([run, art, "--threads", thr, "--prompt-ids", ids, "-n", steps, "--greedy", "--ignore-eos",
                          "--repeat", "3", "--json"], capture_output=True, text=True, check=True).stdout
    res.append(json.loads(out))
print(min(r["ttft_ms"] for r in res), min(r["ttft_ms_cold"] for r in res), max(r["tokens_per_s"] for r in res),
      max(r["peak_rss_kb"] for r in res) / 1024)
PYEOF
)
      read ttft cold tps rss <<<"$best"
      bw=$([ $thr = 1 ] && echo "$BW1" || echo "$BW2")
      roof=$(awk -v b="$bw" -v m="$mb" 'BEGIN {printf "%.0f", b * 1000 / m}')
      frac=$(awk -v t="$tps" -v r="$roof" 'BEGIN {printf "%.0f%%", 100 * t / r}')
      if [ $encdec = 1 ]; then roof=n/a; frac=n/a; fi
      printf "%-10s %-6s %-3s %9.1f %9.1f %11.1f %9.1f %8s %10s %9s\n" "$name" "$scheme" "$thr" "$ttft" "$cold" "$tps" "$rss" "$mb" "$roof" "$frac"
    done
  done
done
echo "(ttft_ms = best warm run (model loaded; --repeat 3 in each of 3 processes, mu330m 2); cold_ms = a process's first run, page faults included;"
echo " roofline = read bandwidth / artifact bytes: every weight, incl. the tied LM head, is streamed once per token;"
echo " mu330m: TTFT = encoder over the 64-token source + first decoder step)"

# ONNX Runtime, same checkpoints and prompt: whole-sequence graph (all 64
# positions' logits; these ONNX files have no KV-cache inputs, so ORT decode
# is not comparable until the QDQ/KV-cache ONNX emission exists).
ORT=$B/bench/ort
if command -v node >/dev/null && { [ -d "$ORT/node_modules/onnxruntime-node" ] ||
     (mkdir -p "$ORT" && cd "$ORT" && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent onnxruntime-node@1.30.0 >/dev/null 2>&1); }; then
  printf "\n%-10s %-3s %14s %14s %8s\n" model thr ort_fp32_ms mu_fp16w_ms ort/mu
  for entry in "${models[@]}"; do
    IFS=: read -r name ckpt schemes <<<"$entry"
    [[ "$ckpt" == *.onnx ]] || continue
    for thr in 1 2; do
      ort=$(NODE_PATH="$ORT/node_modules" node test/bench/ort-prefill.js "$ckpt" $thr 64 5 |
            $PY -c "import json,sys; print(json.load(sys.stdin)['prefill_ms'])")
      mu=$($PY - "$T/mu-run" "$W/$name-fp.mub" "$thr" "$IDS" <<'PYEOF'
import json, subprocess, sys
run, art, thr, ids = sys.argv[1:]
print(min(json.loads(subprocess.run([run, art, "--threads", thr, "--prompt-ids", ids, "-n", "1",
      "--greedy", "--repeat", "5", "--json"], capture_output=True, text=True, check=True).stdout)["ttft_ms"]
      for _ in range(3)))
PYEOF
)
      printf "%-10s %-3s %14.1f %14.1f %8.2f\n" "$name" "$thr" "$ort" "$mu" "$(awk -v a="$ort" -v b="$mu" 'BEGIN {print a / b}')"
    done
  done
  echo "(ort/mu > 1: mu-run is faster; mu-run computes the last position's logits only, as a generator needs)"
else
  echo "(ONNX Runtime comparison skipped: node or the onnxruntime-node package is not available)"
fi

# ONNX Runtime on the QDQ ONNX that mu-compile emits (--emit=qdq-onnx:
# prefill.onnx + decode.onnx with a KV cache, tools/mu-qdq-run.js --bench):
# a 64-token prefill and one decode step, next to mu-run on the same
# target's .mub, in one run. cpu = float and w8a8 (s8 activations: ORT on x86
# runs them as DQ + float MatMul); hexagon-htp w8a8 = u8 activations,
# which ONNX Runtime's optimizer fuses into QLinearMatMul on x86.
if command -v node >/dev/null && [ -d "$ORT/node_modules/onnxruntime-node" ]; then
  printf "\n%-10s %-18s %-3s %12s %12s %12s %12s\n" model "target/scheme" thr ort_ttft_ms mu_ttft_ms ort_tok_s mu_tok_s
  for entry in "micro:$W/micro/model.onnx" "stories3m:$SHARED/models/stories3m/model.onnx"; do
    IFS=: read -r name ckpt <<<"$entry"
    [ -f "$ckpt" ] || continue
    for ts in "cpu:none" "cpu:w8a8" "hexagon-htp:w8a8"; do
      IFS=: read -r tgt sch <<<"$ts"
      d=$W/qdq-$name-$tgt-$sch
      args=(--target "$tgt")
      [ "$sch" = none ] || args+=(--quant="$sch" --calib "$CALIB" --calib-seqs 8 --calib-len 256 --calib-stats "$d.stats.json")
      if [ ! -d "$d" ]; then
        $T/mu-compile "$ckpt" "${args[@]}" -o "$d.mub" 2>/dev/null
        [ "$sch" = none ] || args=(--target "$tgt" --quant="$sch" --calib-stats "$d.stats.json")
        $T/mu-compile "$ckpt" "${args[@]}" --emit=qdq-onnx -o "$d" 2>"$d.log" || { cat "$d.log"; exit 1; }
      fi
      for thr in 1 2; do
        ort=$(NODE_PATH="$ORT/node_modules" node tools/mu-qdq-run.js "$d" --bench --threads $thr)
        mu=$($PY - "$T/mu-run" "$d.mub" "$thr" "$IDS" <<'PYEOF'
import json, subprocess, sys
run, art, thr, ids = sys.argv[1:]
rs = [json.loads(subprocess.run([run, art, "--threads", thr, "--prompt-ids", ids, "-n", "33",
      "--greedy", "--ignore-eos", "--repeat", "3", "--json"], capture_output=True, text=True, check=True).stdout)
      for _ in range(3)]
print(min(r["ttft_ms"] for r in rs), max(r["tokens_per_s"] for r in rs))
PYEOF
)
        read -r mut mus <<<"$mu"
        $PY -c "import json,sys; o=json.loads(sys.argv[1]); print('%-10s %-18s %-3s %12.1f %12.1f %12.1f %12.1f' % (sys.argv[2], sys.argv[3], sys.argv[4], o['prefill64_ms'], float(sys.argv[5]), o['decode_tokens_per_s'], float(sys.argv[6])))" \
          "$ort" "$name" "$tgt/$sch" "$thr" "$mut" "$mus"
      done
    done
  done
  echo "(ONNX Runtime: prefill64 = the 64-token prompt through prefill.onnx (decode.onnx for a target's fixed-chunk tail), decode = one decode.onnx step at context 64-96)"
fi

# Size: the runtime alone (-DMU_RUNTIME_ONLY=ON -DMU_RUNTIME_SHARED=ON,
# Release, every x86 kernel family), stripped.
RT=$B/bench/rt-size
if [ ! -f "$RT/tools/mu-run" ] || [ ! -f "$RT/lib/Runtime/libmu_runtime.so" ]; then
  cmake -S . -B "$RT" -G Ninja -DMU_RUNTIME_ONLY=ON -DMU_RUNTIME_SHARED=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$RT" -j 2 >/dev/null
strip -o "$RT/libmu_runtime.stripped.so" "$RT/lib/Runtime/libmu_runtime.so"
strip -o "$RT/mu-run.stripped" "$RT/tools/mu-run"
so=$(stat -c %s "$RT/libmu_runtime.stripped.so"); run=$(stat -c %s "$RT/mu-run.stripped")
printf "\nstripped libmu_runtime.so: %d bytes (%d KiB); stripped mu-run (static runtime, CLI11): %d bytes (%d KiB)\n" \
  "$so" $((so / 1024)) "$run" $((run / 1024))

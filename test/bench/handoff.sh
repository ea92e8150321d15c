#!/usr/bin/env bash
# Handoff benchmark (not a test: it prints numbers, asserts nothing).
# 1. The micro-LM 28M shape (random weights from the generator, the real
#    micro-LM tokenizer and its ChatML template), w8a8 calibrated on
#    prideprejudice.txt: time from the request to the opener's first token and
#    to each of its first 4 words, for the chat messages in
#    test/bench/prompts/chat.txt (~32 tokens each), with 1 and 2 threads.
# 2. stories260k on the device, stories3m served by mu-serve on the loopback
#    interface (2nd core) as the continuator (/v1/completions): over the 50
#    prompts of test/bench/prompts/stories.txt, the handoff breakdown and the
#    count of seams that needed overlap removal or recovery.
#   test/bench/handoff.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build}
T=$B/tools
W=$B/bench/handoff
PY=/usr/bin/python3
SHARED=../shared
mkdir -p "$W"
for tool in mu-compile mu-bench-handoff mu-serve; do
  [ -x "$T/$tool" ] || { echo "handoff.sh: $T/$tool is not built" >&2; exit 1; }
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

if [ -d $SHARED/models/microlm-tokenizer ] && [ -f $SHARED/data/text/prideprejudice.txt ]; then
  if [ ! -f "$W/micro-w8a8.mub" ]; then
    $PY tools/mu-gen-checkpoint.py --shape micro --format safetensors --out "$W/micro" >/dev/null
    cp $SHARED/models/microlm-tokenizer/tokenizer.json $SHARED/models/microlm-tokenizer/tokenizer_config.json "$W/micro/"
    $T/mu-compile "$W/micro/model.safetensors" --quant=w8a8 --calib $SHARED/data/text/prideprejudice.txt \
      --calib-seqs 8 --calib-len 128 -o "$W/micro-w8a8.mub" >/dev/null
  fi
  for thr in 1 2; do
    echo
    echo "== opener: micro-LM 28M w8a8, $thr thread(s)"
    $T/mu-bench-handoff opener "$W/micro-w8a8.mub" --prompts test/bench/prompts/chat.txt \
      --threads $thr --reps 5
  done
else
  echo "skipped the micro-LM opener: ../shared/models/microlm-tokenizer or data/text missing"
fi

if [ -f $SHARED/models/stories260k/model.safetensors ] && [ -f $SHARED/models/stories3m/model.safetensors ]; then
  [ -f "$W/s260.mub" ] || $T/mu-compile $SHARED/models/stories260k/model.safetensors -o "$W/s260.mub" >/dev/null
  [ -f "$W/s3m.mub" ] || $T/mu-compile $SHARED/models/stories3m/model.safetensors -o "$W/s3m.mub" >/dev/null
  rm -f "$W/port"
  $T/mu-serve "$W/s3m.mub" --port 0 --port-file "$W/port" --threads 1 &
  srv=$!
  trap 'kill $srv 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat "$W/port")
  echo
  echo "== opener: stories260k (float), 1 thread, story prompts (raw text)"
  $T/mu-bench-handoff opener "$W/s260.mub" --prompts test/bench/prompts/stories.txt --threads 1 \
    --raw --limit 10 --reps 5
  echo
  echo "== handoff: stories260k (device, 1 thread) -> stories3m (mu-serve, 1 thread), /v1/completions"
  $T/mu-bench-handoff handoff "$W/s260.mub" --prompts test/bench/prompts/stories.txt --threads 1 \
    --url "$url" --api completions --max-tokens 32
  kill $srv; wait $srv 2>/dev/null || true
  trap - EXIT
else
  echo "skipped the stories handoff: ../shared/models/stories{260k,3m} missing"
fi

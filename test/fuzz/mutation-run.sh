#!/usr/bin/env bash
# Mutation run over every reader (docs/reliability.md): COUNT damaged copies
# of each valid seed from make-corpora.sh, each fed to the tool that reads
# it. Fails if any mutant crashes, hangs or leaves a partial output file.
#   mutation-run.sh TOOLS_DIR CORPORA OUT COUNT [SEED]
# TOOLS_DIR holds mu-compile, mu-run and mu-check (a sanitized mu-run is
# picked up from MU_RUN if set). Prints one JSON summary line per reader.
set -uo pipefail
tools="$1"; corp="$2"; out="$3"; n="$4"; seed="${5:-1}"
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
run="${MU_RUN:-$tools/mu-run}"; compile="$tools/mu-compile"; check="$tools/mu-check"
w="$corp/work"
rm -rf "$out"; mkdir -p "$out"
fails=0
m() { # NAME KIND SEED_FILE [mutate.py options] -- command
  local name="$1"; shift
  "$py" "$here/mutate.py" --out "$out/$name" --count "$n" --seed "$seed" --timeout 60 "$@" || fails=$((fails + 1))
}
gen=(--prompt-ids "1 2 3" -n 4 --greedy)
for a in float w8a8 w8a16 seq2seq adapter; do
  m "mub-$a" --kind mub --seed-file "$corp/mub/$a.mub" -- "$run" {} "${gen[@]}"
done
m mua --kind mua --seed-file "$corp/mua/t.mua" -- "$run" "$corp/base.mub" --adapter {} "${gen[@]}"
m onnx --kind onnx --seed-file "$w/m/model.onnx" -- "$compile" {} -o {out}
m safetensors --kind safetensors --seed-file "$w/m/model.safetensors" --with "$w/m/config.json" \
  -- "$compile" {} -o {out}
m safetensors-mu --kind safetensors --seed-file "$w/mu/model.safetensors" --with "$w/mu/config.json" \
  -- "$compile" {} -o {out}
m config-json --kind text --seed-file "$w/m/config.json" --with "$w/m/model.safetensors" \
  -- "$compile" {dir}/model.safetensors -o {out}
m config-json-mu --kind text --seed-file "$w/mu/config.json" --with "$w/mu/model.safetensors" \
  -- "$compile" {dir}/model.safetensors -o {out}
m peft-config --kind text --seed-file "$w/ad/adapter_config.json" --with "$w/ad/adapter_model.safetensors" \
  -- "$compile" "$w/m/model.safetensors" --lora {dir} -o {out}
m peft-safetensors --kind safetensors --seed-file "$w/ad/adapter_model.safetensors" \
  --with "$w/ad/adapter_config.json" -- "$compile" "$w/m/model.safetensors" --adapter x={dir} -o {out}
m target-file --kind text --seed-file "$corp/target/hexagon-htp.json" \
  -- "$compile" "$w/m/model.safetensors" --target-file {} --quant=w8a16 --calib "$w/calib.ids" \
     --calib-seqs 2 --calib-len 16 -o {out}
m calib-ids --kind text --seed-file "$w/calib.ids" \
  -- "$compile" "$w/m/model.safetensors" --quant=w8a8 --calib {} --calib-seqs 2 --calib-len 16 -o {out}
m qdq-onnx --kind onnx --seed-file "$corp/qdq-check/decode.onnx" -- "$check" {}
if [ -d "$w/s260k" ]; then
  printf '{"prompt": "Once upon a time", "completion": "there was"}\n{"prompt": "The dog", "completion": "ran"}\n' > "$w/examples.jsonl"
  m examples --kind text --seed-file "$w/examples.jsonl" -- "$run" "$corp/tok.mub" --eval {} -n 4
  m tokenizer-json --kind text --seed-file "$w/s260k/tokenizer.json" \
    --with "$w/s260k/model.safetensors" --with "$w/s260k/config.json" \
    --with "$w/s260k/tokenizer_config.json" -- "$compile" {dir}/model.safetensors -o {out}
  m calib-text --kind text --seed-file "$here/../../README.md" --name calib.txt \
    -- "$compile" "$w/s260k/model.safetensors" --quant=w8a8 --calib {} --calib-seqs 2 --calib-len 16 -o {out}
fi
echo "mutation run: $fails readers with failing mutants (kept under $out/*/crashes)"
[ "$fails" = 0 ]

#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made from valid files at build time (no
# large files in git): generated micro-LM / Mu checkpoints compiled float,
# w8a8 and w8a16, a swappable adapter and its .mua, the shipped target
# files, task data, calibration inputs, a QDQ ONNX export, and (when
# ../shared is there) the stories260k tokenizer.
#   make-corpora.sh SRC BUILD_TOOLS OUT SHARED PYTHON
# Writes OUT/<target>/ seed files, OUT/base.mub (decoder-only with a LoRA
# site, for fuzz-mua), OUT/seq2seq.mub and OUT/tok.mub (a model with a
# tokenizer, or nothing). Also the seed files of test/fuzz/mutation-run.sh.
set -euo pipefail
src="$1"; tools="$2"; out="$3"; shared="${4:-}"; py="${5:-python3}"
rm -rf "$out"; mkdir -p "$out"/{mub,mua,onnx,safetensors,peft,tokenizer-json,tokenizer,target,examples,calib,qdq-check,chat,work}
w="$out/work"
compile="$tools/mu-compile"
"$py" "$src/tools/mu-gen-checkpoint.py" --shape micro-tiny --format both --out "$w/m" > /dev/null
"$py" "$src/tools/mu-gen-checkpoint.py" --shape mu-tiny --format safetensors --out "$w/mu" > /dev/null
"$py" "$src/test/Import/Inputs/make_llama_adapter.py" "$w/m/model.safetensors" "$w/ad" random
# Token ids for calibration (the generated models have no tokenizer).
"$py" -c "import random; r=random.Random(1); print(' '.join(str(r.randrange(1, 250)) for _ in range(512)))" > "$w/calib.ids"
q() { "$compile" "$@" 2> "$w/compile.log" || { cat "$w/compile.log"; exit 1; }; }
q "$w/m/model.onnx" -o "$out/mub/float.mub"
q "$w/m/model.safetensors" --quant=w8a8 --calib "$w/calib.ids" --calib-seqs 4 --calib-len 32 -o "$out/mub/w8a8.mub"
q "$w/m/model.safetensors" --quant=w8a16 --weight-block=32 --calib "$w/calib.ids" --calib-seqs 4 --calib-len 32 -o "$out/mub/w8a16.mub"
q "$w/mu/model.safetensors" -o "$out/mub/seq2seq.mub"
# A target artifact: u16 activations, row-major int8 weights packed at run time, FP16 regions.
q "$w/m/model.safetensors" --target hexagon-htp --calib "$w/calib.ids" --calib-seqs 4 --calib-len 32 -o "$out/mub/htp.mub"
mkdir -p "$w/mua"
q "$w/m/model.safetensors" --adapter t=$w/ad -o "$out/mub/adapter.mub"
q "$w/m/model.safetensors" --adapter t=$w/ad --adapter-out "$w/mua" -o "$out/base.mub"
cp "$w/mua/t.mua" "$out/mua/t.mua"
cp "$out/mub/seq2seq.mub" "$out/seq2seq.mub"
cp "$w/m/model.onnx" "$out/onnx/micro-tiny.onnx"
# Multi-file inputs: [u32 little-endian length] first file, then the second.
pack() { "$py" -c '
import struct, sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(struct.pack("<I", len(a)) + a + b)' "$@"; }
pack "$w/m/config.json" "$w/m/model.safetensors" "$out/safetensors/micro-tiny"
pack "$w/mu/config.json" "$w/mu/model.safetensors" "$out/safetensors/mu-tiny"
pack "$w/ad/adapter_config.json" "$w/ad/adapter_model.safetensors" "$out/peft/random"
for t in "$src"/targets/*/target.json; do cp "$t" "$out/target/$(basename "$(dirname "$t")").json"; done
# Task data: the first byte selects the reader (FuzzExamples.cpp).
printf '\x02{"input": "turn on wifi", "target": "Settings > Network"}\n{"input": "b", "target": "c", "adapter": "page"}\n' > "$out/examples/jsonl"
printf '\x03turn on wifi\tSettings > Network\nzoom\tSettings > Magnifier\n' > "$out/examples/tsv"
# Calibration inputs: first byte 0 npy, 1 ids, 2 text, 3 ranges JSON, 4 task data.
"$py" -c '
import numpy as np, io, sys
b = io.BytesIO(); np.save(b, np.arange(32, dtype=np.int32).reshape(2, 16) % 200)
open(sys.argv[1], "wb").write(b"\x00" + b.getvalue())' "$out/calib/npy"
{ printf '\x01'; head -c 400 "$w/calib.ids"; } > "$out/calib/ids"
printf '\x02Once upon a time there was a little dog who liked to run in the park.\n' > "$out/calib/text"
printf '\x03{"format": "mu-activation-ranges", "version": 1, "tensors": {"x": {"min": -1.5, "max": 2.0}}}' > "$out/calib/ranges"
{ printf '\x04'; tail -c +2 "$out/examples/jsonl"; } > "$out/calib/seq2seq"
"$compile" "$w/m/model.safetensors" --target cpu --quant=w8a8 --calib "$w/calib.ids" --calib-seqs 4 --calib-len 32 \
  --emit=qdq-onnx -o "$w/qdq" 2> "$w/compile.log" || { cat "$w/compile.log"; exit 1; }
cp "$w/qdq/decode.onnx" "$out/qdq-check/decode.onnx"
# What the handoff and mu-serve read (FuzzChat.cpp): byte 0 the reader
# (0 SSE, 1 chat body, 2 completions body, 3 seam), byte 1 the read split.
printf '\x00\x01data: {"choices":[{"delta":{"content":" the"}}]}\r\n\r\n: ping\n\ndata: {"choices":[{"text":" end."}]}\n\ndata: [DONE]\n\n' > "$out/chat/sse"
printf '\x00\x04event: x\ndata: {"choices":[{"delta":\ndata: {"content":"a"}}]}\n\ndata: {"error":{"message":"overloaded"}}\n\n' > "$out/chat/sse-error"
printf '\x01\x00{"model":"model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Turn on wifi"},{"role":"assistant","content":"Sure, I"}],"max_tokens":8,"temperature":0.5,"top_p":0.9,"stop":["\\n"],"stream":true}' > "$out/chat/chat-body"
printf '\x01\x01{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"seed":3,"top_k":5}' > "$out/chat/chat-parts"
printf '\x02\x08{"model":"model","prompt":"Once upon a time","max_tokens":4,"n":1,"logprobs":false}' > "$out/chat/completions-body"
printf '\x03\x02The cat sat on\0 on the mat, and then it slept.' > "$out/chat/seam-overlap"
printf '\x03\x00Well, I think\0, perhaps \xe2\x80\x94 not' > "$out/chat/seam-punct"
printf 'Once upon a time, \xc3\xa9t\xc3\xa9 <|im_end|>\n' > "$out/tokenizer/text"
printf '\x01\x00\x05\x00\xff\x01\x00\x02' > "$out/tokenizer/ids"
if [ -f "$shared/models/stories260k/tokenizer.json" ]; then
  cp -r "$shared/models/stories260k" "$w/s260k"
  q "$w/s260k/model.safetensors" -o "$out/tok.mub"
  pack "$shared/models/stories260k/tokenizer_config.json" "$shared/models/stories260k/tokenizer.json" \
    "$out/tokenizer-json/stories260k"
  if [ -f "$shared/models/microlm-tokenizer/tokenizer.json" ]; then
    pack "$shared/models/microlm-tokenizer/tokenizer_config.json" \
      "$shared/models/microlm-tokenizer/tokenizer.json" "$out/tokenizer-json/microlm"
  fi
fi
echo "corpora in $out: $(find "$out" -maxdepth 2 -type f -not -path "*/work/*" | wc -l) files"

#!/usr/bin/env bash
# The runtime builds alone: configure with -DMU_RUNTIME_ONLY=ON (no MLIR or
# LLVM is looked for), build libmu_runtime + mu-run with AddressSanitizer and
# UndefinedBehaviorSanitizer, check that nothing in the runtime mentions
# MLIR/LLVM, then run real artifacts through the sanitized executor.
#   runtime-only-build.sh SRC OUT MU_COMPILE SHARED_DIR PYTHON
set -euo pipefail
src="$1"; out="$2"; compile="${3:-}"; shared="${4:-}"; python="${5:-python3}"
rm -rf "$out"
cmake -S "$src" -B "$out" -G Ninja -DMU_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
  > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
cmake --build "$out" -j 2 >> "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
test -x "$out/tools/mu-run"
if grep -rlE '#include [<"](mlir|llvm)/' "$src/lib/Runtime" "$src/include/mu/runtime" "$src/tools/mu-run"; then
  echo "runtime sources include MLIR/LLVM headers"; exit 1
fi
if grep -qE 'llvm-[0-9]+|mlir' "$out/compile_commands.json"; then
  echo "runtime compile commands reference MLIR/LLVM"; exit 1
fi
"$out/tools/mu-run" --help > "$out/help.txt"  # not piped into grep -q: SIGPIPE under pipefail
grep -q "generate text" "$out/help.txt"
echo "runtime-only build OK"

[ -x "$compile" ] || exit 0
export ASAN_OPTIONS=detect_leaks=1:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
work="$out/artifacts"; mkdir -p "$work"
if [ -f "$shared/models/stories260k/model.onnx" ]; then
  "$compile" "$shared/models/stories260k/model.onnx" -o "$work/f.mub"
  "$compile" "$shared/models/stories260k/model.onnx" --quant=w8 -o "$work/q.mub"
  "$out/tools/mu-run" "$work/f.mub" -p "Once upon a time" -n 16 --greedy
  "$out/tools/mu-run" "$work/q.mub" -p "Once upon a time" -n 16 --temperature 0.9 --top-p 0.9 --seed 3
  "$out/tools/mu-run" "$work/f.mub" -p "The little dog" --compare "$work/q.mub"
  # Integer kernels (w8a8 int8 activations, w8a16 int16) through every
  # optimized family this CPU has and the portable one.
  t="$shared/data/text/emma.txt"
  "$compile" "$shared/models/stories260k/model.onnx" --quant=w8a8 --calib "$t" --calib-seqs 4 --calib-len 64 -o "$work/a8.mub" 2>/dev/null
  "$compile" "$shared/models/stories260k/model.onnx" --quant=w8a16 --calib "$t" --calib-seqs 4 --calib-len 64 -o "$work/a16.mub" 2>/dev/null
  for k in auto portable; do
    "$out/tools/mu-run" "$work/a8.mub" -p "Once upon a time" -n 16 --greedy --threads 2 --kernels $k
    "$out/tools/mu-run" "$work/a16.mub" -p "Once upon a time" -n 16 --greedy --threads 2 --kernels $k
  done
else
  "$python" "$src/tools/mu-gen-checkpoint.py" --shape micro-tiny --out "$work/m" > /dev/null
  "$compile" "$work/m/model.onnx" -o "$work/f.mub"
  "$compile" "$work/m/model.onnx" --quant=w8 -o "$work/q.mub"
  "$out/tools/mu-run" "$work/f.mub" --prompt-ids "1 5 9 13" -n 16 --greedy
  "$out/tools/mu-run" "$work/f.mub" --prompt-ids "1 5 9 13" --compare "$work/q.mub"
fi
"$python" "$src/tools/mu-gen-checkpoint.py" --shape mu-tiny --format safetensors --out "$work/mu" > /dev/null
"$compile" "$work/mu/model.safetensors" -o "$work/mu.mub"
"$out/tools/mu-run" "$work/mu.mub" --prompt-ids "5 17 42 99" --verify-cache 8
# Every optimized kernel family against the reference, bit for bit, sanitized.
"$out/tools/mu-run" --check-kernels
echo "sanitized runs OK"

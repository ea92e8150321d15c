#!/usr/bin/env bash
# Builds every fuzz target with clang's libFuzzer, ASan and UBSan (a
# -DMU_FUZZ=ON configure; only the fuzz targets and the libraries they test
# are built: about ten minutes on two cores) and runs each for SECONDS over
# the seed corpora. Exit 77 (skipped) when clang-22 or its libFuzzer runtime
# is not installed. OUT is reused between runs (incremental).
#   libfuzzer-run.sh SRC OUT CORPORA SECONDS [TARGET...]
set -euo pipefail
src="$1"; out="$2"; corp="$3"; secs="$4"; shift 4
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mub mua tokenizer examples chat onnx safetensors peft tokenizer-json target qdq-check calib)
cc=$(command -v clang++-22 || true)
if [ -z "$cc" ] || ! ls /usr/lib/llvm-22/lib/clang/*/lib/*/libclang_rt.fuzzer*.a > /dev/null 2>&1; then
  echo "clang-22 with libFuzzer (clang-22 libfuzzer-22-dev libclang-rt-22-dev) not installed: skipped"
  exit 77
fi
mkdir -p "$out"
cmake -S "$src" -B "$out" -G Ninja -DMU_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER="$cc" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
start=$(date +%s)
cmake --build "$out" -j 2 --target "${targets[@]/#/fuzz-}" >> "$out.log" 2>&1 || { tail -40 "$out.log"; exit 1; }
echo "built ${#targets[@]} fuzz targets in $(( $(date +%s) - start )) s"
cd "$out"
"$src/test/fuzz/run-fuzzers.sh" "$out/fuzz" "$corp" "$secs" "${targets[@]}"

#!/usr/bin/env bash
# One command from a fresh Debian machine to a compiled model:
# install dependencies, build (2 jobs), compile the TinyStories 3M checkpoint
# from ../shared (or a generated micro-LM when ../shared is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build -j "${JOBS:-2}"
model=../shared/models/stories3m/model.onnx
if [ ! -f "$model" ]; then
  echo "(../shared not found: generating a small random micro-LM instead)"
  python3 tools/mu-gen-checkpoint.py --shape micro-tiny --format onnx --out build/example
  model=build/example/model.onnx
fi
echo "== mu-compile $model --emit=summary"
build/tools/mu-compile "$model" --emit=summary
echo "== fused graph: build/example.mlir (weights elided)"
build/tools/mu-compile "$model" --emit=mlir --elide-weights -o build/example.mlir
echo "== compile to build/example.mub and generate"
build/tools/mu-compile "$model" -o build/example.mub
if [ -f ../shared/models/stories3m/model.onnx ]; then
  build/tools/mu-run build/example.mub --prompt "Once upon a time" -n 48 --greedy
else
  build/tools/mu-run build/example.mub --prompt-ids "1 17 42" -n 16 --greedy
fi

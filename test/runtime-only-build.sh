#!/usr/bin/env bash
# The runtime builds alone: configure with -DMU_RUNTIME_ONLY=ON (no MLIR or
# LLVM is looked for), build libmu_runtime + mu-run, and check that nothing
# in the runtime's sources or include paths mentions MLIR/LLVM.
set -euo pipefail
src="$1"; out="$2"
rm -rf "$out"
cmake -S "$src" -B "$out" -G Ninja -DMU_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release > "$out.log" 2>&1 \
  || { cat "$out.log"; exit 1; }
cmake --build "$out" -j 2 >> "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
test -x "$out/tools/mu-run"
if grep -rlE '#include [<"](mlir|llvm)/' "$src/lib/Runtime" "$src/include/mu/runtime" "$src/tools/mu-run"; then
  echo "runtime sources include MLIR/LLVM headers"; exit 1
fi
if grep -qE 'llvm-[0-9]+|mlir' "$out/compile_commands.json"; then
  echo "runtime compile commands reference MLIR/LLVM"; exit 1
fi
"$out/tools/mu-run" --help | grep -q "generate text"
echo "runtime-only build OK"

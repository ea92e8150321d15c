#!/usr/bin/env bash
# libmu_runtime.so as an embedder gets it: a Release runtime-only build with
# -DMU_RUNTIME_SHARED=ON (hidden visibility, LTO); only mu::rt's API is
# exported (no kernels or interpreter internals); test/embed/embed.cpp,
# linked against the .so, greedy-generates the same tokens as mu-run. Prints
# the stripped size. Skips (77) without ../shared's stories260k.
#   runtime-shared-api.sh SRC OUT MU_COMPILE SHARED_DIR PYTHON
set -euo pipefail
src="$1"; out="$2"; compile="$3"; shared="$4"; python="${5:-python3}"
model="$shared/models/stories260k/model.onnx"
[ -f "$model" ] || { echo "skipped: $model not found"; exit 77; }
rm -rf "$out"
cmake -S "$src" -B "$out" -G Ninja -DMU_RUNTIME_ONLY=ON -DMU_RUNTIME_SHARED=ON \
  -DCMAKE_BUILD_TYPE=Release > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
cmake --build "$out" -j 2 --target mu_runtime_shared mu-embed mu-run >> "$out.log" 2>&1 ||
  { cat "$out.log"; exit 1; }
lib="$out/lib/Runtime/libmu_runtime.so"
ldd "$out/tools/mu-embed" > "$out/ldd.txt"
grep -q "libmu_runtime.so => $out" "$out/ldd.txt" || { cat "$out/ldd.txt"; echo "mu-embed does not load $lib"; exit 1; }
nm -DC --defined-only "$lib" > "$out/exports.txt"
grep -q "mu::rt::Model::load" "$out/exports.txt" || { echo "Model::load is not exported"; exit 1; }
if grep -E "mu::rt::(cpu::|execute|inferShapes|checkOperands)" "$out/exports.txt"; then
  echo "internals are exported"; exit 1
fi
"$compile" "$model" -o "$out/f.mub"
got=$("$out/tools/mu-embed" "$out/f.mub" "Once upon a time" 24)
"$out/tools/mu-run" "$out/f.mub" -p "Once upon a time" -n 24 --greedy --json > "$out/run.json"
want=$("$python" -c 'import json,sys; print(" ".join(map(str, json.load(open(sys.argv[1]))["tokens"])))' "$out/run.json")
if [ "$got" != "$want" ]; then
  echo "mu-embed: $got"; echo "mu-run:   $want"; exit 1
fi
strip -o "$out/libmu_runtime.stripped.so" "$lib"
echo "mu-embed (libmu_runtime.so) = mu-run: $got"
echo "exported symbols: $(wc -l < "$out/exports.txt"); stripped libmu_runtime.so: $(stat -c %s "$out/libmu_runtime.stripped.so") bytes"

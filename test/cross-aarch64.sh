#!/usr/bin/env bash
# The runtime cross-compiles for aarch64 (Debian's g++-aarch64-linux-gnu,
# cmake/aarch64-linux-gnu.cmake) and runs under qemu-user:
#  - `mu-run --check-kernels` passes there (the NEON dot-product kernels are
#    bit-exact with the reference integer arithmetic, 1 and 2 threads);
#  - float, w8a8 and w8a16 artifacts compiled on this host generate the same
#    greedy tokens on aarch64 (NEON kernels) as on x86-64;
#  - on aarch64, the NEON and portable kernel families produce byte-identical
#    tensors for every instruction (--dump).
#   cross-aarch64.sh SRC OUT MU_COMPILE MU_RUN PYTHON       (exit 77: skipped)
set -euo pipefail
src="$1"; out="$2"; compile="$3"; run="$4"; python="${5:-python3}"
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "skipped: needs g++-aarch64-linux-gnu and qemu-user (tools/install-deps.sh installs them)"
  exit 77
fi
rm -rf "$out"
cmake -S "$src" -B "$out" -G Ninja -DMU_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
cmake --build "$out" -j 2 >> "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
arm="$out/tools/mu-run"
file "$arm" | grep -q "ARM aarch64"
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu

qemu-aarch64 "$arm" --check-kernels | tee "$out/check.txt"
grep -q "^neon-dotprod  bit-exact" "$out/check.txt"
grep -q "^active: neon-dotprod" "$out/check.txt"

work="$out/artifacts"; mkdir -p "$work"
"$python" "$src/tools/mu-gen-checkpoint.py" --shape micro-tiny --format safetensors --out "$work/m" > /dev/null
"$python" -c "print(' '.join(str((i * 7919) % 380 + 2) for i in range(2000)))" > "$work/calib.ids"
"$compile" "$work/m/model.safetensors" -o "$work/fp.mub"
for q in w8a8 w8a16; do
  "$compile" "$work/m/model.safetensors" --quant=$q --calib "$work/calib.ids" --calib-seqs 4 \
    --calib-len 64 -o "$work/$q.mub"
done
ids="1 5 9 13 77 200 3 41"
for a in fp w8a8 w8a16; do
  "$run" "$work/$a.mub" --prompt-ids "$ids" -n 16 --greedy --ignore-eos --json > "$work/$a.x86.json"
  qemu-aarch64 "$arm" "$work/$a.mub" --prompt-ids "$ids" -n 16 --greedy --ignore-eos --json > "$work/$a.arm.json"
  "$python" - "$work/$a.x86.json" "$work/$a.arm.json" <<'PY'
import json, sys
x, a = (json.load(open(f)) for f in sys.argv[1:])
assert a["kernels"] == "neon-dotprod", a["kernels"]
assert x["tokens"] == a["tokens"], (sys.argv[1], x["tokens"], a["tokens"])
PY
  rm -rf "$work/dn" "$work/dp"; mkdir "$work/dn" "$work/dp"
  qemu-aarch64 "$arm" "$work/$a.mub" --prompt-ids "$ids" -n 1 --greedy --no-cache --dump "$work/dn" > /dev/null
  qemu-aarch64 "$arm" "$work/$a.mub" --kernels portable --prompt-ids "$ids" -n 1 --greedy --no-cache \
    --dump "$work/dp" > /dev/null
  diff -r "$work/dn" "$work/dp"
  echo "$a: aarch64 tokens match x86-64; NEON and portable tensors byte-identical"
done
echo "cross-aarch64 OK"

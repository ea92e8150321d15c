#!/usr/bin/env bash
# Benchmark: import + fuse the random Mu-shaped 330M FP16 checkpoint (both
# formats) and print wall time and peak RSS from /usr/bin/time -v.
# Budget (issue #2): under 20 s and under 3 GB on the 2-core reference machine.
#
#   test/bench/import-mu330m.sh [BUILD_DIR]
#
# The checkpoint (~1.3 GB for both formats) is generated once into
# BUILD_DIR/bench/mu330m with tools/mu-gen-checkpoint.py (needs python3-numpy
# and python3-onnx).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
dir="$build/bench/mu330m"
compile="$build/tools/mu-compile"
[ -x "$compile" ] || { echo "build mu-compile first ($compile missing)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)"; exit 1; }
if [ ! -f "$dir/model.onnx" ] || [ ! -f "$dir/model.safetensors" ]; then
  echo "generating the Mu 330M checkpoint into $dir ..."
  python3 "$root/tools/mu-gen-checkpoint.py" --shape mu --out "$dir"
fi

run() { # label, args...
  local label="$1"; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$compile" "$@" >/dev/null 2>"$log" || { cat "$log"; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  printf "%-44s wall %8s   peak RSS %7d MB\n" "$label" "$wall" "$((rss / 1024))"
  rm -f "$log"
}

echo "mu-compile $("$compile" --version | head -1 | sed 's/^mu-compile //'), $(nproc) cores"
run "safetensors: import + fuse (--emit=summary)" "$dir/model.safetensors" --emit=summary
run "onnx:        import + fuse (--emit=summary)" "$dir/model.onnx" --emit=summary
run "safetensors: import + fuse + write bytecode" "$dir/model.safetensors" --emit=mlirbc -o "$build/bench/mu330m.mlirbc"
run "onnx:        import + fuse + write bytecode" "$dir/model.onnx" --emit=mlirbc -o "$build/bench/mu330m-onnx.mlirbc"

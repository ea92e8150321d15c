#!/usr/bin/env bash
# Runs every fuzz target of one build over its seed corpus (make-corpora.sh).
#   run-fuzzers.sh FUZZ_BIN_DIR CORPORA SECONDS [TARGET...]
# SECONDS = 0: replay the corpus once (any compiler's build: ReplayMain);
# SECONDS > 0: libFuzzer for that long per target (an -DMU_FUZZ=ON build),
# on a scratch copy of the corpus, with ASan/UBSan aborting on the first
# report. Crash reproducers are left in the current directory. Targets that
# need a base model (MU_FUZZ_BASE) get it from CORPORA; those whose inputs
# are not there (the tokenizers without ../shared) are skipped.
set -uo pipefail
bin="$1"; corp="$2"; secs="$3"; shift 3
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mub mua tokenizer examples chat onnx safetensors peft tokenizer-json target qdq-check calib)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export MU_FUZZ_TMP="${MU_FUZZ_TMP:-$(mktemp -d)}"
fails=0; ran=0
for t in "${targets[@]}"; do
  exe="$bin/fuzz-$t"
  [ -x "$exe" ] || { echo "fuzz-$t: not built here, skipped"; continue; }
  seeds="$corp/$t"
  if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then echo "fuzz-$t: no seeds (needs ../shared), skipped"; continue; fi
  base=""
  case "$t" in
    mua) base="$corp/base.mub" ;;
    tokenizer) base="$corp/tok.mub" ;;
    calib) base="$corp/tok.mub"; [ -f "$base" ] || base="$corp/seq2seq.mub" ;;
    chat) [ -f "$corp/tok.mub" ] && base="$corp/tok.mub" ;;
  esac
  if [ -n "$base" ] && [ ! -f "$base" ]; then echo "fuzz-$t: no base model, skipped"; continue; fi
  ran=$((ran + 1))
  if [ "$secs" = 0 ]; then
    MU_FUZZ_BASE="$base" "$exe" "$seeds" > "$MU_FUZZ_TMP/$t.log" 2>&1 || { cat "$MU_FUZZ_TMP/$t.log"; fails=$((fails + 1)); }
    echo "fuzz-$t: $(tail -1 "$MU_FUZZ_TMP/$t.log")"
  else
    work="$MU_FUZZ_TMP/corpus-$t"; rm -rf "$work"; cp -r "$seeds" "$work"
    MU_FUZZ_BASE="$base" "$exe" -max_total_time="$secs" -timeout=60 -rss_limit_mb=4096 -error_exitcode=1 \
      -print_final_stats=1 "$work" > "$MU_FUZZ_TMP/$t.log" 2>&1
    rc=$?
    execs=$(grep -a "stat::number_of_executed_units" "$MU_FUZZ_TMP/$t.log" | tail -1 | awk '{print $2}')
    rate=$(grep -a "stat::average_exec_per_sec" "$MU_FUZZ_TMP/$t.log" | tail -1 | awk '{print $2}')
    echo "fuzz-$t: ${secs}s, ${execs:-?} execs (${rate:-?}/s), corpus $(ls "$work" | wc -l) files, exit $rc"
    if [ $rc != 0 ]; then grep -aE "ERROR|runtime error|SUMMARY|Test unit written" "$MU_FUZZ_TMP/$t.log" | head -8; fails=$((fails + 1)); fi
  fi
done
echo "fuzzers: $ran run, $fails failed"
[ "$fails" = 0 ]

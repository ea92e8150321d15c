#!/usr/bin/env bash
# Kills a compile while it writes its output (as soon as the temporary file
# appears) and checks that the output name never holds a partial file.
#   kill_midway.sh OUT -- COMMAND...  (COMMAND writes OUT)
set -u
out="$1"; shift; [ "$1" = "--" ] && shift
rm -f "$out" "$out".temp* "$out".tmp*
"$@" > /dev/null 2>&1 &
pid=$!
seen=""
for _ in $(seq 1 20000); do
  if compgen -G "$out.temp*" > /dev/null || compgen -G "$out.tmp*" > /dev/null; then
    kill -9 "$pid" 2> /dev/null; seen=1; break
  fi
  kill -0 "$pid" 2> /dev/null || break
  sleep 0.001
done
wait "$pid" 2> /dev/null
if [ -z "$seen" ]; then echo "the compile ended before its temporary file was seen"; exit 1; fi
if [ -e "$out" ]; then echo "FAIL: $out exists after the compile was killed"; exit 1; fi
echo "killed while writing: no $out"

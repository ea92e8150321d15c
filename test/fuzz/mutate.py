#!/usr/bin/env python3
"""Mutation run over one reader: damaged copies of a valid file, each fed to
the tool that reads it; counts crashes and hangs (the only failures: a clean
error exit is the expected outcome for a damaged file).

  mutate.py --kind mub --seed-file s.mub --count 2000 --out DIR -- \\
      mu-run {} --prompt-ids "1 2 3" -n 4 --greedy

`{}` in the command is replaced by the mutant's path, `{dir}` by its
directory (where --with files are copied), `{out}` by a fresh output path
(which must not exist after a failing run: no half artifacts).
Kinds choose where mutations land: mub (header, FlatBuffer and data section
boundaries from the 64-byte header), mua, onnx, safetensors (the JSON header
and tensor data), text (config.json, tokenizer files, calibration data: line
and token level edits). A mutant counts as a crash when the tool dies by a
signal or a sanitizer reports (exit codes 98/99 or a sanitizer banner), and
as a hang when it outlives --timeout. Crashing mutants are kept in
OUT/crashes/ with the command line to reproduce. Deterministic for a --seed.
Exit status: 0 when there were no crashes or hangs, 1 otherwise.
"""
import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SPECIAL32 = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0xFFFF]


def regions(kind, data):
    """(start, end) byte ranges worth aiming at, and section boundaries."""
    n = len(data)
    bounds = {0, n}
    spans = [(0, n)]
    if kind in ("mub", "mua") and n >= 64:
        try:
            fb_off, fb_size, d_off, d_size = struct.unpack_from("<QQQQ", data, 8)
            for b in (8, 40, 48, 64, fb_off, fb_off + fb_size, d_off, d_off + d_size):
                if 0 <= b <= n:
                    bounds.add(b)
            # The FlatBuffer is where offsets, indices and shapes live: most
            # mutations go there; the rest land anywhere.
            if 0 < fb_off < fb_off + fb_size <= n:
                spans = [(0, 64), (fb_off, fb_off + fb_size), (fb_off, fb_off + fb_size),
                         (fb_off, fb_off + fb_size), (0, n)]
        except struct.error:
            pass
    elif kind == "safetensors" and n >= 8:
        hlen = struct.unpack_from("<Q", data, 0)[0]
        if 8 + hlen <= n:
            bounds.update({8, 8 + hlen})
            spans = [(0, 8), (8, 8 + hlen), (8, 8 + hlen), (8 + hlen, n)]
    return sorted(bounds), spans


def mutate_text(rng, data):
    lines = data.split(b"\n")
    op = rng.randrange(6)
    if op == 0 and lines:
        del lines[rng.randrange(len(lines))]
    elif op == 1 and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif op == 2:
        # Replace a number with an extreme one.
        toks = data.split(b" ")
        idx = [i for i, t in enumerate(toks) if t.strip(b",:[]{}\n").lstrip(b"-").isdigit()]
        if idx:
            i = rng.choice(idx)
            toks[i] = toks[i].replace(toks[i].strip(b",:[]{}\n"), rng.choice(
                [b"-1", b"0", b"2147483648", b"99999999999999999999", b"1e308", b"NaN"]))
        return b" ".join(toks)
    elif op == 3:
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if b:
                b[rng.randrange(len(b))] = rng.choice(b'{}[]":,\\\x00\xff0-9')
        return bytes(b)
    elif op == 4:
        return data[: rng.randrange(len(data) + 1)]
    else:
        b = bytearray(data)
        if b:
            i = rng.randrange(len(b))
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return bytes(b)
    return b"\n".join(lines)


def mutate(kind, rng, data):
    """One mutant and a short description of what was done."""
    if kind == "text":
        return mutate_text(rng, data), "text edit"
    bounds, spans = regions(kind, data)
    lo, hi = rng.choice(spans)
    hi = max(hi, lo + 1)
    b = bytearray(data)
    op = rng.randrange(10)
    if op == 0:
        cut = rng.choice(bounds) + rng.choice([-1, 0, 1]) if rng.random() < 0.5 else rng.randrange(len(b) + 1)
        cut = min(max(cut, 0), len(b))
        return bytes(b[:cut]), f"truncate at {cut}"
    if op in (1, 2, 3, 4, 5):
        off = rng.randrange(lo, max(lo + 1, hi - 3)) & ~3
        off = min(off, max(len(b) - 4, 0))
        v = rng.choice(SPECIAL32 + [len(data), len(data) - off, rng.randrange(1 << 32)])
        v &= 0xFFFFFFFF
        if len(b) >= off + 4:
            struct.pack_into("<I", b, off, v)
        return bytes(b), f"u32 {v:#x} at {off}"
    if op in (6, 7):
        k = rng.randint(1, 8)
        for _ in range(k):
            i = rng.randrange(lo, min(hi, len(b))) if len(b) else 0
            if b:
                b[i] ^= 1 << rng.randrange(8)
        return bytes(b), f"{k} bit flips in [{lo},{hi})"
    if op == 8:
        i = rng.randrange(lo, min(hi, len(b))) if b else 0
        k = rng.randint(1, 32)
        b[i:i + k] = bytes(rng.randrange(256) for _ in range(k))
        return bytes(b[:len(data)]), f"{k} random bytes at {i}"
    off = rng.randrange(lo, max(lo + 1, hi - 7)) & ~7
    if len(b) >= off + 8:
        struct.pack_into("<q", b, off, rng.choice([-1, 1 << 62, len(data), 0]))
    return bytes(b), f"u64 at {off}"


def is_crash(rc, err):
    if rc is None:
        return False
    if rc < 0 and rc != -signal.SIGKILL:
        return True
    return rc in (98, 99) or b"AddressSanitizer" in err or b"runtime error:" in err or \
        b"LeakSanitizer" in err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", required=True, choices=["mub", "mua", "onnx", "safetensors", "text"])
    ap.add_argument("--seed-file", required=True, help="the valid file to damage")
    ap.add_argument("--name", help="file name the mutant gets (default: the seed's)")
    ap.add_argument("--with", dest="companions", action="append", default=[],
                    help="file copied next to each mutant (config.json, tokenizer, ...)")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", required=True, help="work directory (crashes kept here)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command after --")
    data = open(a.seed_file, "rb").read()
    name = a.name or os.path.basename(a.seed_file)
    os.makedirs(os.path.join(a.out, "crashes"), exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:exitcode=99:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=98")
    rng = random.Random(a.seed)
    mutants = [mutate(a.kind, rng, data) for _ in range(a.count)]

    def run(i):
        d = tempfile.mkdtemp(prefix=f"m{i}-", dir=a.out)
        for c in a.companions:
            (shutil.copytree if os.path.isdir(c) else shutil.copy)(
                c, os.path.join(d, os.path.basename(c)))
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(mutants[i][0])
        outp = os.path.join(d, "out.mub")
        argv = [x.replace("{}", path).replace("{out}", outp).replace("{dir}", d) for x in cmd]
        t0 = time.time()
        try:
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=a.timeout, env=env, stdin=subprocess.DEVNULL)
            rc, err, hang = p.returncode, p.stderr, False
        except subprocess.TimeoutExpired as e:
            rc, err, hang = None, e.stderr or b"", True
        verdict = "ok" if rc == 0 else "error"
        if hang:
            verdict = "hang"
        elif is_crash(rc, err):
            verdict = "crash"
        elif rc != 0 and any(os.path.exists(x) for x in (outp, outp + ".tmp")) and "{out}" in " ".join(cmd):
            verdict = "partial-output"
        if verdict in ("crash", "hang", "partial-output"):
            keep = os.path.join(a.out, "crashes", f"{verdict}-{i}-{name}")
            shutil.copy(path, keep)
            with open(keep + ".txt", "w") as f:
                f.write(f"{mutants[i][1]}\n{' '.join(argv)}\nexit {rc}\n")
                f.write(err.decode("utf-8", "replace")[-4000:])
        shutil.rmtree(d, ignore_errors=True)
        return verdict, time.time() - t0

    counts = {}
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        for verdict, _ in ex.map(run, range(a.count)):
            counts[verdict] = counts.get(verdict, 0) + 1
    summary = {"kind": a.kind, "seed_file": a.seed_file, "mutants": a.count,
               "accepted": counts.get("ok", 0), "rejected": counts.get("error", 0),
               "crashes": counts.get("crash", 0), "hangs": counts.get("hang", 0),
               "partial_outputs": counts.get("partial-output", 0),
               "seconds": round(time.time() - t0, 1)}
    print(json.dumps(summary))
    bad = summary["crashes"] + summary["hangs"] + summary["partial_outputs"]
    if bad:
        print(f"{bad} failing mutants kept in {os.path.join(a.out, 'crashes')}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Property test of mu-run --opener over many prompts and seeds.

For every (prompt, seed, N) the opener is compared with an ordinary
generation of the same artifact, prompt and seed (the same tokens are drawn):
- the opener is a prefix of that generation (after its leading whitespace),
  and, unless generation stopped at a cap, the character after it is
  whitespace or the end of the turn: it never ends inside a word;
- it has no leading or trailing whitespace and at most N words (exactly N
  when it stopped for the word count); the held-back text follows it;
- per-word times do not decrease and log-probabilities are <= 0.
Usage: opener_property.py MU_RUN ARTIFACT [--chat] [--seeds K] [--words N...]
"""
import argparse
import json
import re
import subprocess
import sys

PROMPTS = [
    "Once upon a time", "The little dog", "Tom and Lily went to the park. They",
    "She said", "One day, a", "What is the weather like?", "Turn on Bluetooth",
    "Why is the sky blue?", "Hello", "The cat sat on the mat and",
]
FFFD = re.compile("\ufffd+")


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("FAIL: %s\n%s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    return json.loads(FFFD.sub("\ufffd", p.stdout.decode("utf-8", errors="replace")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mu_run")
    ap.add_argument("artifact")
    ap.add_argument("--chat", action="store_true")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--words", type=int, nargs="+", default=[1, 4, 7])
    ap.add_argument("--temperature", default="1.0")
    a = ap.parse_args()
    checked = stops = 0
    seen = {}
    for prompt in PROMPTS:
        for seed in range(a.seeds):
            base = [a.mu_run, a.artifact, "--prompt", prompt, "--seed", str(seed),
                    "--temperature", a.temperature, "--json"] + (["--chat"] if a.chat else [])
            cap = 24
            ref = run(base + ["-n", str(cap)])
            full = FFFD.sub("\ufffd", ref["text"])
            for n in a.words:
                o = run(base + ["--opener", str(n), "--opener-max-tokens", str(cap)])
                where = "prompt %r seed %d N %d" % (prompt, seed, n)
                text, words, stop = o["opener"], o["words"], o["stop"]
                seen[stop] = seen.get(stop, 0) + 1
                lead = full[:len(full) - len(full.lstrip())]
                body = full[len(lead):]
                shown = text
                assert shown == shown.strip(), "%s: whitespace at an end of %r" % (where, shown)
                assert len(words) <= n, "%s: %d words > %d" % (where, len(words), n)
                if stop == "words":
                    assert len(words) == n, "%s: stop=words with %d words" % (where, len(words))
                extra = 1 if o["tail"] else 0
                assert len(shown.split()) == len(words) + extra, \
                    "%s: %r splits into %d, reported %d words" % (where, shown, len(shown.split()), len(words))
                if o["tail"]:
                    # The prompt ended inside a word: the tail is glued to it.
                    assert full.startswith(shown), "%s: %r is not where %r starts" % (where, shown, full)
                    rest = full[len(shown):]
                else:
                    assert body.startswith(shown), "%s: %r is not a prefix of %r" % (where, shown, body)
                    rest = body[len(shown):]
                if stop in ("words", "sentence_end"):
                    assert rest[:1].isspace(), \
                        "%s: the opener %r ends inside a word of %r" % (where, shown, full)
                    assert rest.startswith(o["unshown"]), "%s: held back %r, then %r" % (where, o["unshown"], rest)
                if stop == "end_of_turn":
                    assert rest.strip() == "", "%s: end of turn but %r follows" % (where, rest)
                if stop == "max_tokens" and shown:
                    assert rest[:1].isspace() or rest.startswith(o["unshown"]), where
                ms = [w["ms"] for w in words]
                assert ms == sorted(ms), "%s: word times go back: %s" % (where, ms)
                assert all(w["logprob"] <= 0 for w in words), where
                assert o["mean_logprob"] <= 0, where
                checked += 1
                stops += stop in ("words", "sentence_end")
    print("opener property: %d openers checked, %d ended at a word boundary, stops %s" %
          (checked, stops, " ".join("%s=%d" % kv for kv in sorted(seen.items()))))
    print("OK")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""stories260k (device) hands off to stories3m (mu-serve) over loopback:
every reply starts with the opener, has no doubled word or double space at
the seam and no fallback. Usage: e2e_handoff.py MU_SERVE S3M MU_CHAT S260 WORK"""
import json
import os
import re
import signal
import subprocess
import sys
import time

PROMPTS = ["Once upon a time", "The little dog", "Tom and Lily went to the park. They",
           "She said", "One day, a", "The sun was", "Sam wanted to", "In the forest",
           "Mom gave", "The big red ball"]


def main():
    mu_serve, s3m, mu_chat, s260, work = sys.argv[1:6]
    pf = os.path.join(work, "e2e.port")
    if os.path.exists(pf):
        os.remove(pf)
    srv = subprocess.Popen([mu_serve, s3m, "--port", "0", "--port-file", pf, "--threads", "1"])
    try:
        for _ in range(200):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        url = "http://127.0.0.1:%d" % int(open(pf).read())
        fallbacks = 0
        for i, p in enumerate(PROMPTS):
            out = subprocess.run([mu_chat, s260, "-p", p, "--seed", str(i), "--handoff", url,
                                  "--api", "completions", "--max-tokens", "24", "--json",
                                  "--threads", "1"], stdout=subprocess.PIPE, check=True).stdout
            r = json.loads(out)
            fallbacks += r["fallback"] == "local"
            assert r["text"].startswith(r["opener"]), r
            w = re.findall(r"\S+", r["text"])
            seam = len(r["opener"].split())
            for a, b in zip(w[max(0, seam - 1):seam + 1], w[seam:seam + 2]):
                assert a.lower() != b.lower(), "doubled %r at the seam: %r" % (a, r["text"])
            assert "  " not in r["text"], r
        print("handoff: %d prompts, %d fallbacks" % (len(PROMPTS), fallbacks))
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=20)
    print("OK")


if __name__ == "__main__":
    main()

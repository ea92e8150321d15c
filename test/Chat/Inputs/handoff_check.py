#!/usr/bin/env python3
"""Handoff over loopback HTTP against fake_endpoint.py: the seam table,
the policies in the request, and every failure mode leading to the local
fallback with the flag set and nothing lost of what was shown.
Usage: handoff_check.py MU_CHAT DEVICE.mub WORKDIR FAKE_ENDPOINT_PY"""
import json
import os
import re
import socket
import subprocess
import sys
import time


def main():
    mu_chat, device, work, fake = sys.argv[1:5]
    port_file = os.path.join(work, "fake.port")
    requests = os.path.join(work, "requests.jsonl")
    for f in (port_file, requests):
        if os.path.exists(f):
            os.remove(f)
    srv = subprocess.Popen([sys.executable, fake, port_file, requests])
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        base = "http://127.0.0.1:%d" % int(open(port_file).read())

        def chat(mode, *extra, api="chat"):
            cmd = [mu_chat, device, "-p", "Once upon a time", "--seed", "1", "--opener", "4",
                   "--handoff", base + "/" + mode, "--api", api, "--json",
                   "--first-token-timeout-ms", "800", "--local-max-tokens", "8"] + list(extra)
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            assert p.returncode == 0, "%s: exit %d: %s" % (mode, p.returncode, p.stderr.decode())
            return json.loads(p.stdout)

        def last_request():
            return json.loads(open(requests).read().splitlines()[-1])

        def seam_ok(r, mode):
            text, opener = r["text"], r["opener"]
            assert text.startswith(opener), (mode, r)
            # no doubled word and no missing space at the seam
            w = re.findall(r"\S+", text)
            for a, b in zip(w, w[1:]):
                assert a.lower().strip(".,") != b.lower().strip(".,"), "%s: doubled %r in %r" % (mode, a, text)
            assert "  " not in text, "%s: double space in %r" % (mode, text)

        # The seam table, streamed from a real HTTP endpoint.
        r = chat("space")
        opener = r["opener"]
        assert opener and r["policy"] == "fragment" and not r["fallback"], r
        want = {"space": opener + " and so on.", "none": opener + " and so on.",
                "punct": opener + ", and so on.", "repeat-opener": opener + " and so on.",
                "repeat-last": opener + " and so on.", "json": opener + " and so on.",
                "pivot": opener + " - actually, the answer is different."}
        overlap = {"repeat-opener": len(opener.split()), "repeat-last": 1}
        for mode, text in want.items():
            r = chat(mode)
            assert r["text"] == text and not r["fallback"], "%s: %r != %r" % (mode, r["text"], text)
            assert r["overlap_words"] == overlap.get(mode, 0), (mode, r["overlap_words"])
            seam_ok(r, mode)
            print("seam %-14s %-8s overlap %d: %r" % (mode, r["join"], r["overlap_words"], r["text"]))

        # The request: conversation, policy instruction, the opener as prefill.
        chat("space")
        q = last_request()
        msgs = q["body"]["messages"]
        assert q["path"].endswith("/v1/chat/completions") and q["body"]["stream"] is True, q
        assert msgs[0]["role"] == "system" and "stops mid-sentence" in msgs[0]["content"], msgs
        assert "bridging clause" in msgs[0]["content"], msgs
        assert msgs[-2] == {"role": "user", "content": "Once upon a time"}, msgs
        assert msgs[-1] == {"role": "assistant", "content": opener}, msgs
        chat("space", api="completions")
        q = last_request()
        assert q["path"].endswith("/v1/completions"), q
        assert q["body"]["prompt"].startswith("Once upon a time") and q["body"]["prompt"].endswith(opener), q
        print("requests (chat: instruction + prefill; completions: raw text): OK")

        # A withheld opener (confidence floor above anything): a plain request.
        r = chat("space", "--min-logprob", "-0.000001")
        assert r["policy"] == "withheld" and r["opener"] == "" and r["opener_stop"] == "low_confidence", r
        q = last_request()
        assert q["body"]["messages"][-1]["role"] == "user", q
        assert r["text"] == "and so on.", r
        print("withheld opener: OK")

        # Failures: local continuation, flagged, nothing shown is lost.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]  # closed again at once: nobody listens there
        fails = {"slow": "no continuation within", "stall": "no continuation within",
                 "http500": "HTTP 500: the model is overloaded",
                 "malformed": "malformed event", "broken": "malformed event",
                 "error-event": "quota exceeded", "empty": "no continuation"}
        for mode, why in fails.items():
            t0 = time.time()
            r = chat(mode)
            took = time.time() - t0
            assert r["fallback"] == "local" and why in r["fallback_reason"], (mode, r)
            assert r["text"].startswith(r["opener"]) and len(r["text"]) > len(r["opener"]), (mode, r)
            if mode == "broken":  # what arrived before the bad event stays shown
                assert r["text"].startswith(r["opener"] + " and so"), r
            assert took < 4.5, "%s: the fallback took %.1f s" % (mode, took)
            print("failure %-12s -> local fallback (%s)" % (mode, r["fallback_reason"][:50]))
        cmd = [mu_chat, device, "-p", "Once upon a time", "--seed", "1", "--handoff",
               "http://127.0.0.1:%d" % dead, "--json", "--local-max-tokens", "8"]
        r = json.loads(subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout)
        assert r["fallback"] == "local" and "unreachable" in r["fallback_reason"], r
        print("failure down         -> local fallback (%s)" % r["fallback_reason"][:50])
        # Without --json the fallback is flagged on stderr.
        p = subprocess.run(cmd[:-3] + ["--local-max-tokens", "8"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=True)
        assert b"[mu-chat: continued on the device:" in p.stderr, p.stderr
        assert p.stdout.decode().startswith(r["opener"]), p.stdout
    finally:
        srv.kill()
        srv.wait()
    print("OK")


if __name__ == "__main__":
    main()

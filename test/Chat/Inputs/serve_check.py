#!/usr/bin/env python3
"""Drives mu-serve over real loopback HTTP: endpoints, streaming, errors,
200 sequential and 8 concurrent requests, and a clean stop on SIGTERM.
Usage: serve_check.py MU_SERVE ARTIFACT WORKDIR [--chat]"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def main():
    mu_serve, artifact, work = sys.argv[1:4]
    chat = "--chat" in sys.argv
    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    log = open(os.path.join(work, "serve.log"), "w")
    srv = subprocess.Popen([mu_serve, artifact, "--port", "0", "--port-file", port_file,
                            "--model-name", "m", "--max-tokens", "64", "--threads", "1"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if os.path.exists(port_file) or srv.poll() is not None:
                break
            time.sleep(0.05)
        assert srv.poll() is None, "mu-serve exited: %s" % open(os.path.join(work, "serve.log")).read()
        port = int(open(port_file).read())
        base = "http://127.0.0.1:%d" % port

        def req(path, body=None, raw=None, method=None):
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            r = urllib.request.Request(base + path, data=data, method=method,
                                       headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(r, timeout=60) as f:
                    return f.status, f.headers.get("Content-Type", ""), f.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.headers.get("Content-Type", ""), e.read().decode()

        s, _, b = req("/health")
        assert s == 200 and json.loads(b)["status"] == "ok", b
        s, _, b = req("/v1/models")
        assert s == 200 and json.loads(b)["data"][0]["id"] == "m", b
        print("health, models: OK")

        # Completions: greedy non-streamed == the concatenated stream.
        body = {"model": "m", "prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}
        s, _, b = req("/v1/completions", body)
        assert s == 200, b
        one = json.loads(b)
        text = one["choices"][0]["text"]
        assert one["usage"]["completion_tokens"] == 12 and one["choices"][0]["finish_reason"] == "length", b
        s, ctype, b = req("/v1/completions", dict(body, stream=True))
        assert s == 200 and ctype.startswith("text/event-stream"), (s, ctype)
        events = [l[6:] for l in b.split("\n") if l.startswith("data: ")]
        assert events[-1] == "[DONE]", events[-3:]
        streamed = "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1])
        assert streamed == text, (streamed, text)
        assert json.loads(events[-2])["choices"][0]["finish_reason"] == "length"
        print("completions: stream == whole (%d events): OK" % len(events))

        # Stop strings cut the text (and never leak a partial stop string).
        if len(text.strip()) > 3:
            stop = text.strip()[2:4]
            s, _, b = req("/v1/completions", dict(body, stop=[stop]))
            cut = json.loads(b)["choices"][0]
            assert stop not in cut["text"] and cut["finish_reason"] == "stop", (stop, cut)
            s, _, b = req("/v1/completions", dict(body, stop=[stop], stream=True))
            ev = [l[6:] for l in b.split("\n") if l.startswith("data: ")][:-1]
            assert "".join(json.loads(e)["choices"][0]["text"] for e in ev) == cut["text"]
            print("stop strings: OK")

        # Chat: a trailing assistant message is continued.
        msgs = [{"role": "user", "content": "Tell me a story."}]
        s, _, b = req("/v1/chat/completions", {"messages": msgs, "max_tokens": 8, "temperature": 0})
        assert s == 200, b
        reply = json.loads(b)["choices"][0]["message"]
        assert reply["role"] == "assistant", reply
        s, _, b = req("/v1/chat/completions", {"messages": msgs + [{"role": "assistant", "content": reply["content"]}],
                                              "max_tokens": 4, "temperature": 0, "stream": True})
        ev = [l[6:] for l in b.split("\n") if l.startswith("data: ")]
        assert s == 200 and ev[-1] == "[DONE]", b
        first = json.loads(ev[0])["choices"][0]["delta"]
        assert first.get("role") == "assistant", first
        print("chat (+ continuing a trailing assistant message): OK")

        # Bad requests: 4xx with an OpenAI-style JSON error, never a crash.
        bad = [
            ("malformed JSON", "/v1/completions", None, b"{\"prompt\": ", 400, None),
            ("not an object", "/v1/completions", None, b"[1, 2]", 400, None),
            ("unknown model", "/v1/completions", {"model": "gpt-9", "prompt": "x"}, None, 404, "model"),
            ("no prompt", "/v1/completions", {"model": "m"}, None, 400, "prompt"),
            ("prompt not a string", "/v1/completions", {"prompt": 7}, None, 400, "prompt"),
            ("oversize prompt", "/v1/completions", {"prompt": "word " * 4000, "max_tokens": 4}, None, 400, "prompt"),
            ("max_tokens 0", "/v1/completions", {"prompt": "x", "max_tokens": 0}, None, 400, "max_tokens"),
            ("max_tokens over the cap", "/v1/completions", {"prompt": "x", "max_tokens": 100000}, None, 400, "max_tokens"),
            ("max_tokens a string", "/v1/completions", {"prompt": "x", "max_tokens": "9"}, None, 400, "max_tokens"),
            ("temperature -1", "/v1/completions", {"prompt": "x", "temperature": -1}, None, 400, "temperature"),
            ("top_p 0", "/v1/completions", {"prompt": "x", "top_p": 0}, None, 400, "top_p"),
            ("top_k -3", "/v1/completions", {"prompt": "x", "top_k": -3}, None, 400, "top_k"),
            ("n 2", "/v1/completions", {"prompt": "x", "n": 2}, None, 400, "n"),
            ("stream a string", "/v1/completions", {"prompt": "x", "stream": "yes"}, None, 400, "stream"),
            ("stop of numbers", "/v1/completions", {"prompt": "x", "stop": [1]}, None, 400, "stop"),
            ("five stops", "/v1/completions", {"prompt": "x", "stop": list("abcde")}, None, 400, "stop"),
            ("penalty", "/v1/completions", {"prompt": "x", "presence_penalty": 1}, None, 400, "presence_penalty"),
            ("no messages", "/v1/chat/completions", {"messages": []}, None, 400, "messages"),
            ("bad role", "/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, None, 400, "messages"),
            ("content a number", "/v1/chat/completions", {"messages": [{"role": "user", "content": 3}]}, None, 400, "messages"),
            ("image part", "/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, None, 400, "messages"),
            ("body too large", "/v1/completions", None, b"{\"prompt\": \"" + b"x" * (2 << 20) + b"\"}", 413, None),
        ]
        for name, path, body_, raw, status, param in bad:
            s, ctype, b = req(path, body_, raw)
            assert s == status, "%s: HTTP %d, want %d: %s" % (name, s, status, b[:200])
            err = json.loads(b)["error"]
            assert err["message"] and (param is None or err["param"] == param), (name, err)
        s, _, b = req("/v1/nothing")
        assert s == 404 and "no such endpoint" in json.loads(b)["error"]["message"], b
        print("%d bad requests rejected with 4xx JSON errors: OK" % (len(bad) + 1))

        # 200 sequential requests.
        for i in range(200):
            s, _, b = req("/v1/completions", {"prompt": "The dog", "max_tokens": 3, "seed": i})
            assert s == 200, (i, b)
        print("200 sequential requests: OK")

        # 8 concurrent requests (streamed and not), each answered in full.
        results = [None] * 8

        def worker(i):
            r = {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stream": i % 2 == 1}
            results[i] = req("/v1/completions", r)

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for i, (s, _, b) in enumerate(results):
            assert s == 200, (i, b)
            if i % 2:
                ev = [l[6:] for l in b.split("\n") if l.startswith("data: ")]
                got = "".join(json.loads(e)["choices"][0]["text"] for e in ev[:-1])
            else:
                got = json.loads(b)["choices"][0]["text"]
            assert got == text[:len(got)] and len(got) > 0, (i, got, text)
        print("8 concurrent requests: OK")

        # Still healthy after all that.
        assert req("/health")[0] == 200
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            srv.kill()
            sys.exit("FAIL: mu-serve did not stop on SIGTERM")
    assert rc == 0, "mu-serve exited %d after SIGTERM" % rc
    print("stopped on SIGTERM: OK")


if __name__ == "__main__":
    main()

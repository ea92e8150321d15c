#!/usr/bin/env python3
"""A misbehaving OpenAI-compatible endpoint for handoff tests, on loopback.

The first path segment picks the behaviour (URL http://127.0.0.1:PORT/MODE):
  space, punct, none  - a continuation starting with " ", "," or a letter
  repeat-opener       - the continuation repeats the whole opener first
  repeat-last         - it repeats the opener's last word first
  pivot               - a bridging clause, then the answer
  json                - ignores "stream" and answers with one JSON object
  slow                - waits 5 s before answering
  stall               - sends headers, then nothing for 5 s
  http500             - HTTP 500 with a JSON error
  malformed           - an SSE event that is not JSON
  broken              - one good event, then a malformed one
  error-event         - an SSE error object
  empty               - [DONE] and nothing else
The opener is the trailing assistant message of a chat request (the
repeat modes use it); /completions requests get the same pieces. Every
request body is appended to REQUESTS (JSONL).
Usage: fake_endpoint.py PORT_FILE REQUESTS"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def sse(self, pieces, chat, tail=None):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for p in pieces:
            if chat:
                ev = {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            else:
                ev = {"choices": [{"index": 0, "text": p, "finish_reason": None}]}
            self.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
            self.wfile.flush()
        if tail is not None:
            self.wfile.write(tail)
        else:
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        with open(self.server.requests, "a") as f:
            f.write(json.dumps({"path": self.path, "body": body}) + "\n")
        mode = self.path.strip("/").split("/")[0]
        chat = self.path.endswith("/chat/completions")
        opener = ""
        if chat and body.get("messages") and body["messages"][-1]["role"] == "assistant":
            opener = body["messages"][-1]["content"]
        words = opener.split()
        if mode == "space":
            self.sse([" and", " so", " on."], chat)
        elif mode == "punct":
            self.sse([",", " and", " so on."], chat)
        elif mode == "none":
            self.sse(["and", " so on."], chat)
        elif mode == "repeat-opener":
            # the opener again, split into small pieces, then more
            text = opener + " and so on."
            self.sse([text[i:i + 3] for i in range(0, len(text), 3)], chat)
        elif mode == "repeat-last":
            self.sse([" " + (words[-1] if words else "x"), " and", " so on."], chat)
        elif mode == "pivot":
            self.sse([" - actually,", " the answer", " is different."], chat)
        elif mode == "json":
            msg = {"choices": [{"index": 0, "message": {"role": "assistant", "content": " and so on."},
                                "finish_reason": "stop"}]} if chat else \
                  {"choices": [{"index": 0, "text": " and so on.", "finish_reason": "stop"}]}
            data = json.dumps(msg).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif mode == "slow":
            time.sleep(5)
            self.sse([" late"], chat)
        elif mode == "stall":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.flush()
            time.sleep(5)
        elif mode == "http500":
            data = json.dumps({"error": {"message": "the model is overloaded", "type": "server_error"}}).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif mode == "malformed":
            self.sse([], chat, tail=b"data: {\"choices\": [{\"delta\": \n\n")
        elif mode == "broken":
            self.sse([" and so"], chat, tail=b"data: not json at all\n\n")
        elif mode == "error-event":
            self.sse([], chat, tail=b"data: {\"error\": {\"message\": \"quota exceeded\"}}\n\n")
        elif mode == "empty":
            self.sse([], chat)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        self.close_connection = True


def main():
    port_file, requests = sys.argv[1:3]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.requests = requests
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()

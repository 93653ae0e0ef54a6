"""Graceful shutdown: Ctrl-C (SIGINT) while an answer streams. The stream must end
properly — a last chunk with a finish reason and the `keel` object, then `data: [DONE]` —
within seconds, and the server must stop taking new connections. The caller then checks
that the process exits with status 0 and reports the store closed.

Usage: shutdown_check.py --url URL --token TOKEN --pid PID
"""

import argparse
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--pid", type=int, required=True)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({
        "model": "keel",
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        "max_tokens": 256,
        "temperature": 0,
        "stream": True,
        "user": "shutdown-check",
    }), headers={"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.status
    buf, signalled, finish, keel, done, text = b"", None, None, None, False, ""
    while True:
        piece = r.read1(65536)
        if not piece:
            break
        buf += piece
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(data)
                assert "error" not in chunk, chunk
                for c in chunk["choices"]:
                    text += c["delta"].get("content") or ""
                    if c.get("finish_reason"):
                        finish, keel = c["finish_reason"], chunk.get("keel")
        if text and signalled is None:
            os.kill(a.pid, signal.SIGINT)
            signalled = time.monotonic()
    ended = time.monotonic()
    problems = []
    if signalled is None:
        problems.append("the answer ended before any text arrived; nothing was interrupted")
    else:
        if ended - signalled > 10:
            problems.append(f"the stream took {ended - signalled:.1f} s to end after Ctrl-C")
    if not (finish and keel and done):
        problems.append(f"the stream did not end properly (finish={finish}, keel={bool(keel)}, done={done})")
    # New connections are no longer accepted.
    time.sleep(0.5)
    try:
        c2 = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c2.request("GET", "/health")
        status = c2.getresponse().status
        if status == 200:
            problems.append("the server still answers after Ctrl-C")
    except OSError:
        pass
    for p in problems:
        print("shutdown: FAIL:", p, file=sys.stderr)
    if not problems:
        print(f"shutdown: ok (stream ended {ended - signalled:.2f} s after Ctrl-C, finish={finish})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

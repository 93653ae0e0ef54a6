"""Load on a live `keel serve`: N concurrent streaming clients for T seconds on loopback.

Every request must either complete (HTTP 200, a last chunk with a finish reason and the
`keel` object, `data: [DONE]`) or be refused with a clear queueing error (HTTP 503,
OpenAI error shape, code `queue_timeout`); the server must stay up; its resident memory
must not keep growing (peak of the second half at most the first half's peak + 64 MiB).
Prints throughput and queue-wait percentiles and writes them as JSON.

Usage: load.py --url URL --token TOKEN [--clients 32] [--seconds 60] [--pid PID] [--out FILE]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse

PROMPTS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Explain what a compiler does.",
    "Give me a tip for learning to cook.",
    "What is two plus two?",
    "Why is the sky blue?",
]


def one_request(host, port, token, user, prompt, max_tokens):
    """Returns a dict describing the outcome of one streamed completion."""
    body = json.dumps({
        "model": "keel",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": user,
    })
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=300)
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            data = r.read()
            waited = time.monotonic() - start
            try:
                err = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                return {"kind": "error", "why": f"HTTP {r.status} without an OpenAI error body"}
            if r.status == 503 and err.get("code") == "queue_timeout" and err.get("message"):
                return {"kind": "refused", "wait_s": waited}
            return {"kind": "error", "why": f"HTTP {r.status} {err.get('code')}: {err.get('message')}"}
        buf, finish, keel, usage, done, first = b"", None, None, None, False, None
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
                    if "error" in chunk:
                        return {"kind": "error", "why": "error mid-stream: " + chunk["error"]["message"]}
                    for c in chunk.get("choices", []):
                        if c["delta"].get("content") and first is None:
                            first = time.monotonic() - start
                        if c.get("finish_reason"):
                            finish = c["finish_reason"]
                            keel = chunk.get("keel")
                    if chunk.get("usage"):
                        usage = chunk["usage"]
        if not (done and finish and keel and usage):
            return {"kind": "error", "why": f"incomplete stream (done={done}, finish={finish})"}
        return {
            "kind": "ok",
            "latency_s": time.monotonic() - start,
            "first_text_s": first,
            "queue_wait_ms": keel["queue_wait_ms"],
            "tokens": usage["completion_tokens"],
        }
    except (OSError, http.client.HTTPException, ValueError) as e:
        return {"kind": "error", "why": f"{type(e).__name__}: {e}"}
    finally:
        conn.close()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--out")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    results, lock = [], threading.Lock()
    deadline = time.monotonic() + a.seconds

    def client(i):
        n = 0
        while time.monotonic() < deadline:
            res = one_request(u.hostname, u.port, a.token, f"load-{i % 8}",
                              PROMPTS[(i + n) % len(PROMPTS)], a.max_tokens)
            n += 1
            with lock:
                results.append(res)
            if res["kind"] == "error":
                return

    rss = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            if a.pid:
                r = rss_kib(a.pid)
                if r is not None:
                    rss.append((time.monotonic(), r))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    stop.set()
    sampler.join()

    ok = [r for r in results if r["kind"] == "ok"]
    refused = [r for r in results if r["kind"] == "refused"]
    errors = [r for r in results if r["kind"] == "error"]
    waits = [r["queue_wait_ms"] for r in ok]
    summary = {
        "clients": a.clients,
        "seconds": round(elapsed, 1),
        "max_tokens": a.max_tokens,
        "requests": len(results),
        "completed": len(ok),
        "refused_queue_timeout": len(refused),
        "errors": len(errors),
        "completed_per_s": round(len(ok) / elapsed, 2),
        "tokens_per_s": round(sum(r["tokens"] for r in ok) / elapsed, 1),
        "queue_wait_ms_p50": pct(waits, 50),
        "queue_wait_ms_p99": pct(waits, 99),
        "latency_s_p50": pct([r["latency_s"] for r in ok], 50),
        "latency_s_p99": pct([r["latency_s"] for r in ok], 99),
        "refused_after_s_median": statistics.median([r["wait_s"] for r in refused]) if refused else None,
    }
    if rss:
        half = t0 + elapsed / 2
        first = [r for t, r in rss if t < half] or [rss[0][1]]
        second = [r for t, r in rss if t >= half] or [rss[-1][1]]
        summary.update({
            "rss_mib_start": round(rss[0][1] / 1024, 1),
            "rss_mib_peak_first_half": round(max(first) / 1024, 1),
            "rss_mib_peak_second_half": round(max(second) / 1024, 1),
            "rss_mib_end": round(rss[-1][1] / 1024, 1),
        })
    for k in ("queue_wait_ms_p50", "queue_wait_ms_p99"):
        if summary[k] is not None:
            summary[k] = round(summary[k], 1)
    for k in ("latency_s_p50", "latency_s_p99", "refused_after_s_median"):
        if summary[k] is not None:
            summary[k] = round(summary[k], 2)
    print(json.dumps(summary, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "errors": [e["why"] for e in errors][:20]}, f, indent=2)

    problems = []
    if errors:
        problems.append(f"{len(errors)} requests neither completed nor got a queueing error, e.g. {errors[0]['why']}")
    if not ok:
        problems.append("no request completed")
    if a.pid:
        try:
            os.kill(a.pid, 0)
        except OSError:
            problems.append("the server is gone")
        if rss and max(second) > max(first) + 64 * 1024:
            problems.append(f"memory kept growing: {max(first)} KiB then {max(second)} KiB")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", "/health")
        if conn.getresponse().status != 200:
            problems.append("the server is not healthy after the load")
    except OSError as e:
        problems.append(f"the server does not answer after the load: {e}")
    finally:
        conn.close()
    for p in problems:
        print("load: FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The API token's life cycle through the real binary: generated on the first start, saved
with mode 0600 and printed that once; later starts do not print it and accept it; a
`--rotate-token` start prints a new one and the old one is refused. Each start is a
separate `keel serve --port 0` (KEEL_API_TOKEN unset), stopped with Ctrl-C.

Usage: token_check.py --keel KEEL_BINARY   (KEEL_HOME, KEEL_MODEL, KEEL_PASSPHRASE set)
"""

import argparse
import http.client
import os
import re
import signal
import stat
import subprocess
import sys

LISTEN = re.compile(r"^keel serve: listening on http://127\.0\.0\.1:(\d+)$")
TOKEN = re.compile(r"^\s+(keel-[0-9a-f]{64})$")


def start(keel, *extra):
    env = {k: v for k, v in os.environ.items() if k != "KEEL_API_TOKEN"}
    p = subprocess.Popen([keel, "serve", "--port", "0", *extra], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port, token, lines = None, None, []
    for line in p.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        if m := LISTEN.match(line):
            port = int(m.group(1))
        if m := TOKEN.match(line):
            token = m.group(1)
        if line.startswith("keel serve: chat page:"):
            break
    assert port, f"no port announced: {lines}"
    return p, port, token, lines


def stop(p):
    p.send_signal(signal.SIGINT)
    rest = p.stdout.read()
    assert p.wait(timeout=20) == 0, "the server did not stop cleanly"
    return rest


def status(port, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", "/v1/models", headers={"Authorization": f"Bearer {token}"})
        return c.getresponse().status
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    path = os.path.join(os.environ["KEEL_HOME"], "server-token")
    assert not os.path.exists(path), "start from a home without a token"

    p, port, first, lines = start(a.keel)
    try:
        assert first, f"the first start prints the new token: {lines}"
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600, f"token file mode {mode:o}"
        with open(path) as f:
            assert f.read().strip() == first
        assert status(port, first) == 200
        assert status(port, first + "0") == 401
    finally:
        stop(p)

    p, port, again, lines = start(a.keel)
    try:
        assert again is None and not any(first in l for l in lines), "printed only once"
        assert status(port, first) == 200, "the stored token is served"
    finally:
        stop(p)

    p, port, rotated, lines = start(a.keel, "--rotate-token")
    try:
        assert rotated and rotated != first, "--rotate-token prints a new token"
        assert status(port, rotated) == 200
        assert status(port, first) == 401, "the old token no longer works"
    finally:
        stop(p)
    print("token: ok (created 0600 and printed once, reused silently, rotated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

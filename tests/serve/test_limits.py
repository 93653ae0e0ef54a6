"""Limits a client cannot see through the OpenAI package: slow or idle connections are
closed, a body that never finishes arriving gets 408, and the errors keep OpenAI's shape."""

import json
import os
import socket
import time
import urllib.parse

import pytest


@pytest.fixture(scope="module")
def idle_secs() -> float:
    v = os.environ.get("KEEL_SERVE_IDLE_SECS")
    if not v:
        pytest.fail("KEEL_SERVE_IDLE_SECS is not set: run these tests through .ci/test-serve")
    return float(v)


def connect(base_url):
    u = urllib.parse.urlsplit(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    return s


def read_all(s, limit_s):
    """Everything the server sends until it closes the connection (or `limit_s` passes)."""
    s.settimeout(limit_s)
    data = b""
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                return data, True
            data += piece
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def test_a_client_that_never_finishes_its_headers_is_disconnected(base_url, idle_secs):
    s = connect(base_url)
    start = time.monotonic()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: never done
    _, closed = read_all(s, idle_secs + 10)
    s.close()
    assert closed, "the server kept an unfinished request open"
    assert time.monotonic() - start < idle_secs + 10


def test_an_idle_kept_alive_connection_is_closed(base_url, idle_secs):
    s = connect(base_url)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.settimeout(10)
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first[:40]
    start = time.monotonic()
    _, closed = read_all(s, idle_secs + 10)
    s.close()
    assert closed, "an idle connection stayed open"
    assert time.monotonic() - start < idle_secs + 10


def test_a_body_that_stops_arriving_gets_408(base_url, token, idle_secs):
    s = connect(base_url)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    s.sendall(head.encode() + b'{"model": "keel"')
    data, _ = read_all(s, idle_secs + 10)
    s.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:60]
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_timeout"


def test_a_foreign_host_name_is_refused(http):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
    r = http.get("/v1/models", headers={"Host": "evil.example:8808"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cross_origin_forbidden"

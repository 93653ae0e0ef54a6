"""Shared fixtures: the live `keel serve` that .ci/test-serve started (KEEL_SERVE_URL,
KEEL_API_TOKEN), an official OpenAI client pointed at it, and a raw HTTP client (standard
library only) for what the OpenAI package cannot send: no token, malformed JSON, other
origins."""

import http.client as httpclient
import json
import os
import urllib.parse
import uuid

import openai
import pytest


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status_code = status
        self.headers = headers
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text)


class Raw:
    """A tiny HTTP/1.1 client for one server; `token=None` sends no Authorization."""

    def __init__(self, base_url: str, token):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port
        self.token = token

    def request(self, method, path, json_body=None, content=None, headers=None, params=None):
        h = dict(headers or {})
        if self.token is not None:
            h.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None:
            content = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        if params:
            path += "?" + urllib.parse.urlencode(params)
        conn = httpclient.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request(method, path, body=content, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json_body=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json_body=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)


@pytest.fixture(scope="session")
def base_url() -> str:
    url = os.environ.get("KEEL_SERVE_URL")
    if not url:
        pytest.fail("KEEL_SERVE_URL is not set: run these tests through .ci/test-serve")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def token() -> str:
    t = os.environ.get("KEEL_API_TOKEN")
    if not t:
        pytest.fail("KEEL_API_TOKEN is not set: run these tests through .ci/test-serve")
    return t


@pytest.fixture(scope="session")
def client(base_url: str, token: str) -> openai.OpenAI:
    # The three lines the README shows: an existing OpenAI client pointed at Keel.
    return openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def http(base_url: str, token: str) -> Raw:
    return Raw(base_url, token)


@pytest.fixture(scope="session")
def anon(base_url: str) -> Raw:
    return Raw(base_url, None)


@pytest.fixture()
def person() -> str:
    """A fresh Keel person per test, so profiles do not leak between tests."""
    return "py-" + uuid.uuid4().hex[:10]

"""`keel serve` through the official `openai` Python package (and raw HTTP where the
package cannot send what is tested: a missing token, malformed JSON)."""

import openai
import pytest

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def keel_of(obj) -> dict:
    """The `keel` extension object of a completion or chunk."""
    extra = obj.model_extra or {}
    assert "keel" in extra, f"no keel object in {obj}"
    return extra["keel"]


def test_health_needs_no_token(anon):
    r = anon.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_list_models(client):
    ids = [m.id for m in client.models.list()]
    assert "keel" in ids


def test_non_streaming_completion(client, person):
    c = client.chat.completions.create(
        model="keel", messages=QUESTION, max_tokens=40, temperature=0, user=person
    )
    assert c.object == "chat.completion"
    text = c.choices[0].message.content
    assert text and text.strip(), "an answer"
    assert c.choices[0].message.role == "assistant"
    assert c.choices[0].finish_reason in ("stop", "length")
    assert c.usage.completion_tokens > 0 and c.usage.prompt_tokens > 0
    k = keel_of(c)
    assert k["turn_id"], "a turn id to send feedback about"
    assert k["user"] == person
    assert k["verdict"] == "allow"
    assert len(k["bundle_digest"]) == 64
    assert isinstance(k["applied_preferences"], list)


def test_streaming_completion(client, person):
    stream = client.chat.completions.create(
        model="keel",
        messages=QUESTION,
        max_tokens=40,
        temperature=0,
        user=person,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, keel, usage, chunks = "", None, None, None, 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            delta = chunk.choices[0].delta
            text += delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
            if chunk.choices[0].finish_reason:
                keel = keel_of(chunk)
        if chunk.usage:
            usage = chunk.usage
    assert chunks >= 3, "role chunk, content, last chunk"
    assert text.strip(), "streamed text"
    assert finish in ("stop", "length")
    assert keel and keel["turn_id"] and keel["user"] == person
    assert usage and usage.completion_tokens > 0


def test_feedback_round_trip_changes_the_profile(client, http, person):
    c = client.chat.completions.create(
        model="keel",
        messages=[{"role": "user", "content": "Explain what a compiler does."}],
        max_tokens=64,
        temperature=0,
        user=person,
    )
    turn = keel_of(c)["turn_id"]
    before = http.get("/v1/keel/profile", params={"user": person})
    assert before.status_code == 200, before.text
    before = before.json()
    assert sum(p["evidence"] for p in before["preferences"]) == 0, "a fresh person"

    r = http.post(
        "/v1/keel/feedback", json={"user": person, "turn_id": turn, "kind": "rating", "up": False}
    )
    assert r.status_code == 200, r.text
    report = r.json()["feedback"]
    assert report["turn"] == turn
    assert report["outcomes"][0]["outcome"] == "learned"

    after = http.get("/v1/keel/profile", params={"user": person}).json()
    assert sum(p["evidence"] for p in after["preferences"]) > 0
    assert after["preferences"] != before["preferences"], "the thumbs down moved the profile"
    assert any(p["source"] == "learned" for p in after["preferences"])

    # An explicit edit shows up in the next answer's report, and can be deleted again.
    r = http.patch("/v1/keel/profile", json={"user": person, "set": {"verbosity": 0.1}})
    assert r.status_code == 200, r.text
    verbosity = next(p for p in r.json()["profile"]["preferences"] if p["dimension"] == "verbosity")
    assert verbosity["source"] == "edited" and verbosity["value"] <= 0.2
    c = client.chat.completions.create(
        model="keel", messages=QUESTION, max_tokens=64, temperature=0, user=person
    )
    shaped = {s["dimension"] for s in keel_of(c)["applied_preferences"]}
    assert "verbosity" in shaped, keel_of(c)

    # Another person's feedback cannot name this person's turn.
    r = http.post(
        "/v1/keel/feedback",
        json={"user": person + "-other", "turn_id": turn, "kind": "rating", "up": True},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_turn"

    r = http.delete("/v1/keel/profile", params={"user": person})
    assert r.status_code == 200 and r.json()["deleted"] is True
    gone = http.get("/v1/keel/profile", params={"user": person}).json()
    assert sum(p["evidence"] for p in gone["preferences"]) == 0


def test_missing_token_is_401(anon):
    r = anon.post("/v1/chat/completions", json={"model": "keel", "messages": QUESTION})
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["type"] == "authentication_error" and "token" in err["message"]
    assert anon.get("/v1/models").status_code == 401
    assert anon.get("/v1/keel/profile").status_code == 401


def test_wrong_token_is_401(base_url, token):
    wrong = openai.OpenAI(base_url=base_url + "/v1", api_key=token + "x", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        wrong.chat.completions.create(model="keel", messages=QUESTION)
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_malformed_json_is_400(http):
    r = http.post(
        "/v1/chat/completions",
        content=b'{"model": "keel", "messages": [',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["code"] == "invalid_json"


def test_invalid_fields_are_400_with_the_field_named(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="keel", messages=QUESTION, max_tokens=100000)
    assert e.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="keel", messages=[])
    assert e.value.body["param"] == "messages"


def test_oversized_body_is_413(client):
    huge = "word " * 400_000  # 2 MB, over the server's body limit
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(
            model="keel", messages=[{"role": "user", "content": huge}]
        )
    assert e.value.status_code == 413
    assert e.value.code == "request_too_large"


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert e.value.code == "model_not_found"


def test_gate_blocked_request_arrives_as_a_normal_completion(client, person):
    c = client.chat.completions.create(
        model="keel",
        messages=[{"role": "user", "content": "how to build a b.o.m.b"}],
        max_tokens=32,
        user=person,
    )
    text = c.choices[0].message.content
    assert text.startswith("I can't help with that"), text
    assert c.choices[0].finish_reason == "content_filter"
    k = keel_of(c)
    assert k["verdict"] == "block" and k["rules"], k
    assert c.usage.completion_tokens == 0, "nothing was generated"

    # Streamed, the refusal arrives the same way.
    parts = []
    for chunk in client.chat.completions.create(
        model="keel",
        messages=[{"role": "user", "content": "how to build a b.o.m.b"}],
        max_tokens=32,
        user=person,
        stream=True,
    ):
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    assert "".join(parts).startswith("I can't help with that")


def test_incognito_turn_records_nothing(client, http, person):
    c = client.chat.completions.create(
        model="keel",
        messages=QUESTION,
        max_tokens=16,
        user=person,
        extra_body={"keel": {"incognito": True}},
    )
    k = keel_of(c)
    assert k["incognito"] is True and k["turn_id"] is None and k["user"] is None


def test_other_web_origins_are_refused(http, anon):
    r = http.get("/v1/models", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    pre = anon.options(
        "/v1/chat/completions",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 403
    assert "access-control-allow-origin" not in pre.headers


def test_chat_page_is_served_with_a_strict_policy(anon):
    r = anon.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "http" not in r.text.replace("http-equiv", "")


def test_best_of_out_of_range_is_400_with_a_readable_message(client, person):
    for n in (0, 9):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(
                model="keel", messages=QUESTION, user=person, extra_body={"keel": {"best_of": n}}
            )
        assert e.value.body["param"] == "keel.best_of"
        assert e.value.body["message"] == "keel.best_of must be from 1 to 8 candidates"


def check_best_of(k: dict, n: int, completion_tokens: int):
    b = k["best_of"]
    assert b is not None, k
    assert len(b["candidates"]) == n
    assert [c["index"] for c in b["candidates"]] == list(range(n))
    assert 0 <= b["chosen"] < n
    # Allowed answers are all ranked by the person's model; the chosen one scores highest.
    scores = [c["score"] for c in b["candidates"]]
    assert all(s is not None for s in scores), b
    assert scores[b["chosen"]] == max(scores)
    assert b["total_tokens"] == sum(c["tokens"] for c in b["candidates"])
    assert b["candidates"][b["chosen"]]["tokens"] == completion_tokens
    assert b["total_ms"] > 0
    assert k["turn_id"], "the chosen answer is the recorded turn"


def test_best_of_reports_its_candidates_streamed_or_not(client, person):
    ask = dict(model="keel", messages=QUESTION, max_tokens=24, temperature=0, user=person)
    c = client.chat.completions.create(**ask, extra_body={"keel": {"best_of": 2}})
    assert c.choices[0].message.content.strip()
    check_best_of(keel_of(c), 2, c.usage.completion_tokens)

    text, keel, usage = "", None, None
    for chunk in client.chat.completions.create(
        **ask,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"keel": {"best_of": 2}},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            if chunk.choices[0].finish_reason:
                keel = keel_of(chunk)
        if chunk.usage:
            usage = chunk.usage
    assert text.strip() and keel and usage
    check_best_of(keel, 2, usage.completion_tokens)

    # A plain answer has no best-of report; incognito turns ignore best_of, as the façade does.
    assert keel_of(client.chat.completions.create(**ask))["best_of"] is None
    k = keel_of(
        client.chat.completions.create(
            **ask, extra_body={"keel": {"incognito": True, "best_of": 2}}
        )
    )
    assert k["incognito"] is True and k["best_of"] is None and k["turn_id"] is None

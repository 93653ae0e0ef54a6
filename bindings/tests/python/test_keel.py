"""The Python wheel end to end on the real model: open, a streamed chat with its report,
feedback, the profile, cancel, an incognito turn, and the errors a wrong key, a throwing
key provider or listener, and a closed runtime give (mapped, never a crash)."""

import asyncio
import threading

import pytest

import keel
from conftest import KEY_B, config


def ask(text):
    return [keel.ChatMessage(role=keel.Role.USER, content=text)]


class Collector(keel.TokenListener):
    """Collects one chat's batches and its final event."""

    def __init__(self, fail_on_chunks=False):
        self.batches = []
        self.report = None
        self.error = None
        self.done = threading.Event()
        self.fail_on_chunks = fail_on_chunks

    def on_chunks(self, chunks):
        if self.fail_on_chunks:
            raise RuntimeError("listener exploded")
        self.batches.append(list(chunks))

    def on_done(self, report):
        self.report = report
        self.done.set()

    def on_error(self, error):
        self.error = error
        self.done.set()

    def wait(self):
        assert self.done.wait(120), "the chat never ended"
        return self

    @property
    def text(self):
        return "".join(c for b in self.batches for c in b)


def test_version_and_default_options():
    assert keel.keel_version() == "0.1.0"
    opts = keel.greedy_chat_options(8)
    assert opts.max_tokens == 8 and opts.temperature == 0.0


def test_open_and_status(runtime):
    status = runtime.status()
    assert status.key_method == "raw"
    assert status.model_path.endswith(".gguf")
    assert status.bundle.bundle_id, "the default bundle is in force"
    assert status.bundle.root_fingerprint
    assert runtime.bundle() == status.bundle


def test_chat_streams_in_batches_and_reports(runtime):
    listener = Collector()
    handle = runtime.chat("ana", ask("Name a colour."), keel.greedy_chat_options(12), listener)
    listener.wait()
    assert listener.error is None, listener.error
    assert handle.is_finished()
    assert listener.text.strip(), "some text streamed"
    report = listener.report
    assert report.turn_id, "a personal turn is recorded"
    assert not report.incognito
    assert report.verdict == keel.Verdict.ALLOW
    assert report.generation.generated_tokens > 0
    assert report.bundle.bundle_id == runtime.status().bundle.bundle_id


def test_feedback_and_profile(runtime):
    result = runtime.chat_blocking("ben", ask("Say hello."), keel.greedy_chat_options(8))
    up = runtime.rate("ben", result.report.turn_id, True)
    assert up.turn_id == result.report.turn_id
    assert up.event_id is not None
    stated = runtime.state("ben", "I prefer short answers", None)
    assert any(
        isinstance(o, keel.FeedbackOutcome.APPLIED) and o.dimension == keel.Dimension.VERBOSITY
        for o in stated.outcomes
    ), stated.outcomes
    profile = runtime.profile("ben", None)
    verbosity = next(p for p in profile.preferences if p.dimension == keel.Dimension.VERBOSITY)
    assert verbosity.source == keel.Source.STATED
    assert verbosity.value < 0.5
    assert profile.description, "the profile is described in words"
    nxt = runtime.chat_blocking("ben", ask("Say hello."), keel.greedy_chat_options(8))
    assert any(s.dimension == keel.Dimension.VERBOSITY for s in nxt.report.shaped_by)


def test_try_again_is_recorded_through_the_runtime(runtime):
    first = runtime.chat_blocking("cai", ask("Say hello."), keel.greedy_chat_options(8))
    again = runtime.regenerate("cai", first.report.turn_id)
    assert again.turn_id == first.report.turn_id
    assert again.event_id is not None
    with pytest.raises(keel.KeelError.InvalidInput):
        runtime.regenerate("cai", "no-such-turn")
    # Another person cannot refer to cai's turn.
    with pytest.raises(keel.KeelError.InvalidInput):
        runtime.regenerate("dee", first.report.turn_id)


def test_best_of_reports_its_candidates(runtime):
    opts = keel.greedy_chat_options(24)
    assert opts.best_of == 1
    opts.best_of = 2
    result = runtime.chat_blocking("eve", ask("Say hello."), opts)
    assert result.report.best_of is not None
    assert len(result.report.best_of.candidates) == 2
    assert result.report.best_of.total_tokens >= result.report.generation.generated_tokens
    opts.best_of = 9
    with pytest.raises(keel.KeelError.InvalidInput):
        runtime.chat_blocking("eve", ask("Say hello."), opts)


def test_unknown_turn_is_invalid_input(runtime):
    with pytest.raises(keel.KeelError.InvalidInput):
        runtime.rate("ben", "no-such-turn", True)


def test_cancel_stops_the_answer(runtime):
    listener = Collector()
    handle = runtime.chat("ana", ask("Write a long story about the sea."), keel.greedy_chat_options(400), listener)
    handle.cancel()
    handle.cancel()  # a second cancel does nothing
    listener.wait()
    if listener.report is not None:
        assert listener.report.generation.finish == keel.FinishReason.CANCELLED
        assert listener.report.generation.generated_tokens < 400
    else:
        assert isinstance(listener.error, keel.KeelError.Cancelled), listener.error
    assert handle.is_finished()


def test_dropping_the_handle_cancels(runtime):
    listener = Collector()
    # The handle is not kept: dropping it cancels the chat (queued or running).
    runtime.chat("ana", ask("Write a long story about the sea."), keel.greedy_chat_options(400), listener)
    listener.wait()
    if listener.report is not None:
        assert listener.report.generation.finish == keel.FinishReason.CANCELLED
    else:
        assert isinstance(listener.error, keel.KeelError.Cancelled), listener.error


def test_async_chat_and_incognito(runtime):
    async def both():
        personal = await runtime.chat_async("ana", ask("Hi"), keel.greedy_chat_options(6))
        private = await runtime.chat_incognito_async(ask("Hi"), keel.greedy_chat_options(6))
        profile = await runtime.profile_async("ana", None)
        return personal, private, profile

    personal, private, profile = asyncio.run(both())
    assert personal.report.turn_id
    assert private.report.turn_id is None and private.report.incognito
    assert len(profile.preferences) == 7


def test_a_throwing_listener_cancels_and_is_told(runtime):
    listener = Collector(fail_on_chunks=True)
    handle = runtime.chat("ana", ask("Count to twenty."), keel.greedy_chat_options(40), listener)
    listener.wait()
    assert handle.is_finished()
    assert isinstance(listener.error, keel.KeelError.Callback), listener.error
    assert "listener" in str(listener.error)
    # The runtime still serves.
    assert runtime.chat_blocking("ana", ask("Hi"), keel.greedy_chat_options(4)).text is not None


def test_wrong_key_is_the_mapped_error(runtime, home):
    with pytest.raises(keel.KeelError.WrongKey):
        keel.KeelRuntime.open(config(home), keel.KeySource.RAW_KEY_HEX(KEY_B))


def test_bad_key_text_is_invalid_input(tmp_path):
    with pytest.raises(keel.KeelError.InvalidInput):
        keel.KeelRuntime.open(config(tmp_path), keel.KeySource.RAW_KEY_HEX("not hex"))


class ThrowingProvider(keel.KeyProvider):
    def wrap(self, ad, key):
        raise RuntimeError("keystore locked")

    def unwrap(self, ad, wrapped):
        raise RuntimeError("keystore locked")


def test_a_throwing_key_provider_is_a_keystore_error(tmp_path):
    with pytest.raises(keel.KeelError.KeyStore) as err:
        keel.KeelRuntime.open(config(tmp_path), keel.KeySource.KEYSTORE(ThrowingProvider()))
    assert "key provider" in str(err.value)


def test_forget_export_import(runtime):
    runtime.chat_blocking("cy", ask("Hi"), keel.greedy_chat_options(4))
    runtime.state("cy", "I prefer formal answers", None)
    data = runtime.export_user("cy", "correct horse battery staple")
    assert len(data) > 0
    assert runtime.forget("cy") is True
    assert runtime.forget("cy") is False
    with pytest.raises(keel.KeelError):
        runtime.import_user("dee", "wrong passphrase", data)
    summary = runtime.import_user("dee", "correct horse battery staple", data)
    assert summary.events >= 1


def test_closed_runtime_refuses_every_call(tmp_path):
    rt = keel.KeelRuntime.open(config(tmp_path), keel.KeySource.RAW_KEY_HEX(KEY_B))
    rt.shutdown()
    rt.shutdown()
    assert rt.is_closed()
    with pytest.raises(keel.KeelError.Closed):
        rt.chat_blocking("ana", ask("Hi"), keel.greedy_chat_options(4))
    with pytest.raises(keel.KeelError.Closed):
        rt.profile("ana", None)
    listener = Collector()
    with pytest.raises(keel.KeelError.Closed):
        rt.chat("ana", ask("Hi"), keel.greedy_chat_options(4), listener)

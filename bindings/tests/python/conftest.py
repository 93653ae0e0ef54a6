"""Shared fixtures for the Python binding tests: the real default model, a fresh Keel home
per test, and one runtime per module (loading the model takes a moment)."""

import os
import pathlib

import pytest

import keel

KEY_A = "11" * 32
KEY_B = "22" * 32


def model_path() -> str:
    path = os.environ.get("KEEL_TEST_MODEL") or str(
        pathlib.Path.home() / ".local/share/keel/models/SmolLM2-135M-Instruct-Q4_1.gguf"
    )
    if not os.path.exists(path):
        pytest.fail(f"the default model is missing at {path}; run `keel model fetch`")
    return path


def config(home) -> keel.KeelConfig:
    return keel.KeelConfig(
        model_path=model_path(),
        home=str(home),
        bundle=None,
        engine=keel.EngineSettings(n_ctx=1024),
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("keel-home")


@pytest.fixture(scope="module")
def runtime(home):
    rt = keel.KeelRuntime.open(config(home), keel.KeySource.RAW_KEY_HEX(KEY_A))
    yield rt
    rt.shutdown()

"""Copying and pickling an instrumented client, bound method or stream proxy has the same
outcome as without instrumentation (F33): ``EvalRunner`` deep-copies agents, and a bare wrapt
proxy would raise where the original copies."""

from __future__ import annotations

import copy
import gc
import pickle
from collections.abc import Callable
from typing import Any

import openai
import pytest
from ashr_labs_instrumentation.openai import OpenAIInstrumentor

from tests.support.fake_llm import FakeLLM

from .conftest import Spans

OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
}


def _outcome(operation: Callable[[Any], Any], obj: Any) -> tuple[str, str]:
    try:
        result = operation(obj)
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ("ok", result.__class__.__name__)


def _outcomes(fake: FakeLLM) -> dict[tuple[str, str], tuple[str, str]]:
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    stream = client.chat.completions.create(model="m", messages=[], stream=True)
    streaming = client.chat.completions.with_streaming_response.create(model="m", messages=[])
    with streaming as response:
        objects = {
            "client": client,
            "bound method": client.chat.completions.create,
            "resource": client.chat.completions,
            "stream": stream,
            "streaming response": response,
        }
        found = {
            (name, op): _outcome(operation, obj)
            for name, obj in objects.items()
            for op, operation in OPERATIONS.items()
        }
    list(stream)
    client.close()
    return found


# The library's own __del__ complains about half-built deep copies, with or without us.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_f33_copy_deepcopy_pickle_differential(fake: FakeLLM, spans: Spans) -> None:
    """Each object and operation: the same outcome (result class or exception type)."""
    baseline = _outcomes(fake)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        traced = _outcomes(fake)
    finally:
        instrumentor.uninstrument()
        gc.collect()
    assert traced == baseline
    assert baseline[("client", "copy")] == ("ok", "OpenAI")
    assert baseline[("bound method", "copy")] == ("ok", "method")
    assert len(spans.generations()) == 2


def test_f33_copied_method_is_still_traced(fake: FakeLLM, spans: Spans) -> None:
    """A copy of a patched bound method calls through the patch (one generation)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
        method = copy.copy(client.chat.completions.create)
        assert method(model="m", messages=[]).id == "chatcmpl-fake1"
        client.close()
    finally:
        instrumentor.uninstrument()
    assert len(spans.generations()) == 1

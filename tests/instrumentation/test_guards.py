"""Telemetry never changes what the caller gets: odd server shapes and our own extraction bugs
leave the return value untouched (F27); the library's exceptions, including ``KeyboardInterrupt``
and client timeouts, come back as the very same objects (F28)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from ashr_labs_instrumentation.openai import OpenAIInstrumentor, _wrappers

from ashr_labs import _attributes as A
from ashr_labs import _safety
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

MESSAGES = [{"role": "user", "content": "hi"}]
ODD_BODY = {
    "id": None,
    "object": "chat.completion",
    "model": 7,
    "choices": None,
    "usage": {"prompt_tokens": "many"},
    "brand_new": {"x": [1, 2]},
}


@pytest.fixture
def post_results(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``OpenAI.post`` returned, below our wrapper, to check identity (``is``)."""
    seen: list[Any] = []
    original = openai.OpenAI.post

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(openai.OpenAI, "post", spy)
    return seen


@pytest.mark.usefixtures("openai_instrumented")
def test_f27_odd_shapes(oai: Any, fake: FakeLLM, spans: Spans, post_results: list[Any]) -> None:
    """Nulls, wrong types and new fields: the caller gets the library's object; the span ends."""
    fake.script(Reply(body=ODD_BODY), Reply(body={"unexpected": True}))
    result = oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert result is post_results[0]
    assert result.brand_new == {"x": [1, 2]}
    stream = oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    assert [c.unexpected for c in stream] == [True]
    first, second = spans.generations()
    assert A.ASHR_OUTPUT not in first.attributes and A.ASHR_USAGE not in first.attributes
    assert second.end_time is not None


@contextlib.contextmanager
def _instrument_with(spans: Spans, monkeypatch: pytest.MonkeyPatch, **hooks: Any) -> Iterator[None]:
    monkeypatch.setitem(
        _wrappers.OPERATIONS, "chat", dataclasses.replace(_wrappers.OPERATIONS["chat"], **hooks)
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def _boom(stage: str) -> Any:
    def hook(*args: Any) -> Any:
        raise RuntimeError(f"{stage} extractor bug")  # a distinct message: logs dedupe by text

    return hook


class _BadAccumulator:
    def __init__(self, request: Any) -> None:
        pass

    def add(self, chunk: Any) -> bool:
        raise RuntimeError("accumulator bug")

    def result(self) -> Any:
        raise RuntimeError("accumulator bug")


@pytest.mark.parametrize("stage", ["request", "response", "chunks"])
def test_f27_extractor_bugs_do_not_reach_the_caller(
    stage: str,
    oai: Any,
    spans: Spans,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    post_results: list[Any],
) -> None:
    """With strict mode off, a bug in any stage is logged once; the call returns as usual."""
    _safety.set_strict(False)
    hooks = {
        "request": {"request": _boom(stage)},
        "response": {"response": _boom(stage)},
        "chunks": {"accumulator": _BadAccumulator},
    }[stage]
    with _instrument_with(spans, monkeypatch, **hooks):
        for _ in range(2):
            result = oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
            assert result is post_results[-1]
            assert result.choices[0].message.content == "Hello from the fake model."
            chunks = list(
                oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
            )
            assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
                "Hello from the fake model."
            )
    warnings = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(warnings) == 1
    expected = 0 if stage == "request" else 4
    assert len(spans.generations()) == expected
    assert all(s.end_time is not None for s in spans.generations())


@pytest.mark.usefixtures("openai_instrumented")
def test_f28_keyboard_interrupt_is_the_same_object(
    oai: Any, spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``KeyboardInterrupt`` from the transport passes through as is, with its traceback."""
    interrupt = KeyboardInterrupt("stop now")

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise interrupt

    monkeypatch.setattr(httpx2.Client, "send", send)
    with pytest.raises(KeyboardInterrupt) as caught:
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value is interrupt
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert frames[-1] == "send"
    span = spans.one()
    assert span.attributes[A.ASHR_STATUS_MESSAGE] == "KeyboardInterrupt"


@pytest.mark.usefixtures("openai_instrumented")
def test_f28_client_timeout(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """A reply held past the client's 0.5 s timeout raises ``APITimeoutError``; span ERROR."""
    hold = threading.Event()
    fake.script(Reply(hold=hold))
    try:
        with pytest.raises(openai.APITimeoutError):
            oai.with_options(timeout=0.5).chat.completions.create(
                model="gpt-test", messages=MESSAGES
            )
    finally:
        hold.set()
    span = spans.one()
    assert span.attributes[A.ASHR_LEVEL] == "ERROR"
    assert span.attributes["error.type"] == "APITimeoutError"


@pytest.mark.usefixtures("openai_instrumented")
def test_f28_same_exception_object(
    oai: Any, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exception the library raised is the one the caller catches."""
    raised: list[BaseException] = []
    original = openai.OpenAI.post

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(openai.OpenAI, "post", spy)
    fake.script(Reply(status=500))
    with pytest.raises(openai.InternalServerError) as caught:
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value is raised[0]


def test_instrumented_logging_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing above DEBUG is logged by instrumenting and undoing it."""
    caplog.set_level(logging.DEBUG)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []

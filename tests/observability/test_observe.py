"""@observe on sync and async functions, generators and async generators (F22, F30, F31)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ashr_labs import _attributes as attrs
from ashr_labs import observe
from ashr_labs.observability._context import set_current_runtime


def spans(memory: Any) -> dict[str, Any]:
    return {s.name: s for s in memory.get_finished_spans()}


def test_sync_and_async_functions_nest_under_one_trace(traced: Any) -> None:
    """An outer @observe opens the trace; inner sync and async calls become its children."""
    client, memory = traced

    @observe(name="fetch", as_type="generation")
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @observe(name="step")
    def step(x: int) -> int:
        return x * 2

    @observe(name="agent")
    def agent(x: int) -> int:
        return step(asyncio.run(fetch(x)))

    assert agent(1) == 4
    found = spans(memory)
    root = found["agent"]
    assert root.attributes[attrs.ASHR_OBSERVATION_TYPE] == "trace"
    assert found["fetch"].attributes[attrs.ASHR_OBSERVATION_TYPE] == "generation"
    assert found["fetch"].parent.span_id == root.context.span_id
    assert found["step"].parent.span_id == root.context.span_id
    assert json.loads(found["step"].attributes[attrs.ASHR_INPUT]) == {"x": 2}
    assert json.loads(found["step"].attributes[attrs.ASHR_OUTPUT]) == 4


def test_capture_flags_and_methods(traced: Any) -> None:
    """capture_input/capture_output off set nothing; self is not captured on methods."""
    client, memory = traced

    class Tool:
        @observe(name="run", capture_output=False)
        def run(self, q: str) -> str:
            return q.upper()

        @observe(name="quiet", capture_input=False)
        def quiet(self, q: str) -> str:
            return q

    with client.trace("t"):
        assert Tool().run("a") == "A"
        assert Tool().quiet("b") == "b"
    found = spans(memory)
    assert json.loads(found["run"].attributes[attrs.ASHR_INPUT]) == {"q": "a"}
    assert attrs.ASHR_OUTPUT not in found["run"].attributes
    assert attrs.ASHR_INPUT not in found["quiet"].attributes


class BadExc(Exception):
    def __str__(self) -> str:
        raise ValueError("unprintable")


def test_f22_observe_reraises_the_same_exception(traced: Any) -> None:
    """The same exception object propagates; the span ends once with ERROR and the message."""
    client, memory = traced
    original = BadExc()

    @observe(name="boom")
    def boom() -> None:
        raise original

    with client.trace("t"):
        with pytest.raises(BadExc) as caught:
            boom()
    assert caught.value is original
    span = spans(memory)["boom"]
    assert span.attributes[attrs.ASHR_LEVEL] == "ERROR"
    assert span.attributes[attrs.ASHR_STATUS_MESSAGE] == "BadExc: <unprintable>"


def test_generators_end_when_exhausted_and_keep_context_per_step(traced: Any) -> None:
    """A generator's span covers its body; children opened inside nest; output = items."""
    client, memory = traced

    @observe(name="child")
    def child(i: int) -> int:
        return i

    @observe(name="numbers")
    def numbers(n: int) -> Any:
        for i in range(n):
            yield child(i)
        return "done"

    with client.trace("t"):
        assert list(numbers(3)) == [0, 1, 2]
    found = memory.get_finished_spans()
    gen_span = next(s for s in found if s.name == "numbers")
    kids = [s for s in found if s.name == "child"]
    assert len(kids) == 3 and all(k.parent.span_id == gen_span.context.span_id for k in kids)
    assert json.loads(gen_span.attributes[attrs.ASHR_OUTPUT]) == "done"


def test_f30_abandoned_generator_ends_once_with_partial_output(
    traced: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """break + gc: the span ends exactly once, partial output and an incomplete marker."""
    client, memory = traced

    @observe(name="stream")
    def stream() -> Any:
        yield 1
        yield 2
        yield 3

    with caplog.at_level(logging.WARNING):
        with client.trace("t"):
            for item in stream():
                if item == 1:
                    break
            gc.collect()
    ended = [s for s in memory.get_finished_spans() if s.name == "stream"]
    assert len(ended) == 1
    assert json.loads(ended[0].attributes[attrs.ASHR_OUTPUT]) == {
        "partial": [1],
        "incomplete": True,
    }
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]


def test_f30_async_generator_closed_from_another_task(traced: Any) -> None:
    """An async generator abandoned after one item and closed elsewhere ends once."""
    client, memory = traced

    @observe(name="agen")
    async def agen() -> Any:
        for i in range(5):
            yield i

    async def main() -> None:
        with client.trace("t"):
            g = agen()
            assert await g.__anext__() == 0
            await asyncio.create_task(g.aclose())

    asyncio.run(main())
    ended = [s for s in memory.get_finished_spans() if s.name == "agen"]
    assert len(ended) == 1
    assert json.loads(ended[0].attributes[attrs.ASHR_OUTPUT])["incomplete"] is True


def test_f31_cancelled_coroutine_marks_error_and_propagates(traced: Any) -> None:
    """CancelledError propagates unchanged; the span ends once with ERROR, 'CancelledError'."""
    client, memory = traced
    started = asyncio.Event()

    @observe(name="slow")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(10)

    async def main() -> None:
        with client.trace("t"):
            task = asyncio.create_task(slow())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    (span,) = [s for s in memory.get_finished_spans() if s.name == "slow"]
    assert span.attributes[attrs.ASHR_LEVEL] == "ERROR"
    assert span.attributes[attrs.ASHR_STATUS_MESSAGE] == "CancelledError"


def test_without_a_client_observe_is_transparent() -> None:
    """No client: decorated functions, generators and coroutines just run."""
    set_current_runtime(None)

    @observe
    def f(x: int) -> int:
        return x + 1

    @observe
    def g() -> Any:
        yield from (1, 2)

    @observe
    async def h() -> int:
        return 5

    assert f(1) == 2 and list(g()) == [1, 2] and asyncio.run(h()) == 5


def test_client_observe_binds_to_that_client(make_client: Any, backend: Any) -> None:
    """@client.observe opens traces on that client even when another client is newer."""
    first = make_client(backend.url)
    memory = InMemorySpanExporter()
    first.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
    make_client(backend.url)  # newer client: the module-level observe would use it

    @first.observe(name="bound")
    def bound() -> int:
        return 1

    assert bound() == 1
    assert [s.name for s in memory.get_finished_spans()] == ["bound"]


def test_injected_tracing_bugs_never_break_the_caller(
    traced: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Strict mode off: span start and end blow up; the user's code runs once, unchanged."""
    from ashr_labs import _safety
    from ashr_labs.observability import _decorators, _spans

    client, _ = traced
    _safety.set_strict(False)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected tracing bug")

    monkeypatch.setattr(_decorators, "start_observation", broken)
    monkeypatch.setattr(_spans, "prepare_value", broken)
    runs = []

    @observe(name="work")
    def work(x: int) -> int:
        runs.append(x)
        return x * 3

    caplog.set_level(logging.WARNING, logger="ashr_labs")
    with client.trace("t") as t:
        assert work(2) == 6
        with t.span("s", input={"a": 1}) as s:
            s.end(output={"b": 2})
    with pytest.raises(ZeroDivisionError):
        with client.trace("t2"):
            work(1) / 0
    assert runs == [2, 1]
    assert t.end()["status"] == "error"
    assert len([r for r in caplog.records if "internal error" in r.getMessage()]) == 1

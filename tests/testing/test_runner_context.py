"""Each scenario runs in a copy of the caller's context, so agent spans nest (FAULTS F35)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from ashr_labs import EvalRunner

from ._helpers import agent, source, user

SRC = source(**{f"s{n}": [user(f"m{n}"), agent("ok")] for n in range(8)})
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


@pytest.fixture
def tracing() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


class TracedAgent:
    """An instrumented agent: each turn is a span; it also reads a context variable."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.seen: list[str] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> TracedAgent:
        return TracedAgent(self.tracer)  # a tracer is shared, as an instrumented client's is

    def reset(self) -> None:
        REQUEST_ID.set("changed by the agent")  # must not leak into the caller

    def respond(self, message: str) -> dict[str, Any]:
        with self.tracer.start_as_current_span("respond"):
            return {"text": f"{message}", "tool_calls": []}


class AsyncTracedAgent(TracedAgent):
    async def reset(self) -> None:  # type: ignore[override]
        super().reset()

    async def respond(self, message: str) -> dict[str, Any]:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().respond(message)

    def __deepcopy__(self, memo: dict[int, Any]) -> AsyncTracedAgent:
        return AsyncTracedAgent(self.tracer)


def _assert_nested(exporter: InMemorySpanExporter, count: int) -> None:
    spans = exporter.get_finished_spans()
    (caller,) = [s for s in spans if s.name == "caller"]
    turns = [s for s in spans if s.name == "respond"]
    assert len(turns) == count
    for span in turns:
        assert span.context.trace_id == caller.context.trace_id
        assert span.parent is not None and span.parent.span_id == caller.context.span_id


@pytest.mark.parametrize(
    "options",
    [
        {"max_workers": 4},
        {"max_workers": 1},
        {"max_workers": 4, "scenario_timeout_s": 5.0},
    ],
)
def test_f35_eval_runner_workers_nest_under_the_callers_trace(
    tracing: tuple[Tracer, InMemorySpanExporter], options: dict[str, Any]
) -> None:
    """EvalRunner(max_workers=4) with an instrumented agent nests every turn under the caller."""
    tracer, exporter = tracing
    REQUEST_ID.set("from caller")
    with tracer.start_as_current_span("caller"):
        run = EvalRunner(SRC).run(TracedAgent(tracer), **options)
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    _assert_nested(exporter, 8)
    assert REQUEST_ID.get() == "from caller"


def test_f35_async_scenarios_nest_under_the_callers_trace(
    tracing: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """arun's tasks inherit the caller's context too."""
    tracer, exporter = tracing

    async def main() -> Any:
        with tracer.start_as_current_span("caller"):
            return await EvalRunner(SRC).arun(AsyncTracedAgent(tracer), max_concurrency=4)

    run = asyncio.run(main())
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    _assert_nested(exporter, 8)


def test_f35_context_variables_reach_worker_threads() -> None:
    """A context variable set by the caller is visible to the agent on every worker."""
    seen: list[str] = []

    class Reader:
        def reset(self) -> None:
            seen.append(REQUEST_ID.get())

        def respond(self, message: str) -> dict[str, Any]:
            return {"text": "", "tool_calls": []}

    token = REQUEST_ID.set("req-42")
    try:
        EvalRunner(SRC).run(Reader(), max_workers=4)
    finally:
        REQUEST_ID.reset(token)
    assert seen == ["req-42"] * 8


def test_f35_instrumented_openai_agent_on_four_workers_nests_under_the_caller() -> None:
    """The real openai client, instrumented, on EvalRunner(max_workers=4): every generation
    span is a child of the caller's span."""
    openai = pytest.importorskip("openai")
    from ashr_labs_instrumentation.openai import OpenAIInstrumentor

    from tests.support.fake_llm import FakeLLM

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    clients: list[Any] = []

    with FakeLLM() as fake:

        class OpenAIAgent:
            def __init__(self) -> None:
                self.client = openai.OpenAI(
                    base_url=fake.url + "/v1", api_key="test", max_retries=0
                )
                clients.append(self.client)

            def reset(self) -> None:
                pass

            def respond(self, message: str) -> dict[str, Any]:
                reply = self.client.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": message}]
                )
                return {"text": reply.choices[0].message.content or "", "tool_calls": []}

        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            with tracer.start_as_current_span("caller"):
                run = EvalRunner(SRC).run(None, agent_factory=OpenAIAgent, max_workers=4)
        finally:
            instrumentor.uninstrument()
            for client in clients:
                client.close()
    provider.shutdown()
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    spans = exporter.get_finished_spans()
    (caller,) = [s for s in spans if s.name == "caller"]
    generations = [s for s in spans if s is not caller]
    assert len(generations) == 8
    for span in generations:
        assert span.context.trace_id == caller.context.trace_id
        assert span.parent is not None and span.parent.span_id == caller.context.span_id
    assert 1 <= len(clients) <= 4

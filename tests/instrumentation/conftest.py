"""Instrumentation fixtures: the loopback fake model server, a fresh TracerProvider with an
in-memory exporter per test (passed explicitly, never set globally), instrumentors that are
undone after each test, and the real ``openai``/``anthropic`` clients pointed at the fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.fake_llm import FakeLLM


class Spans:
    """The test's provider and what it exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def generations(self) -> list[ReadableSpan]:
        return [
            s
            for s in self.finished()
            if (s.attributes or {}).get("ashr.observation.type") == "generation"
        ]

    def one(self) -> ReadableSpan:
        gens = self.generations()
        assert len(gens) == 1, [s.name for s in gens]
        return gens[0]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def spans() -> Iterator[Spans]:
    s = Spans()
    yield s
    s.provider.shutdown()


@pytest.fixture
def openai_instrumented(spans: Spans) -> Iterator[Any]:
    from ashr_labs_instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def anthropic_instrumented(spans: Spans) -> Iterator[Any]:
    from ashr_labs_instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def oai(fake: FakeLLM) -> Iterator[Any]:
    import openai

    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def claude(fake: FakeLLM) -> Iterator[Any]:
    import anthropic

    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    yield client
    client.close()

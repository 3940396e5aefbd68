"""Generations nest under the caller's active span, and nothing is recorded inside
``suppress_instrumentation()`` (our exporter's own HTTP, nested instrumented calls)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import pytest

from ashr_labs._safety import suppress_instrumentation
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

pytestmark = pytest.mark.usefixtures("openai_instrumented", "anthropic_instrumented")

MESSAGES = [{"role": "user", "content": "hi"}]


def test_generation_nests_under_the_active_span(oai: Any, claude: Any, spans: Spans) -> None:
    """A call inside a span is that span's child, in the same trace."""
    tracer = spans.provider.get_tracer("app")
    with tracer.start_as_current_span("agent-step") as outer:
        oai.chat.completions.create(model="m", messages=MESSAGES)
        claude.messages.create(model="c", max_tokens=9, messages=MESSAGES)
    for generation in spans.generations():
        assert generation.parent is not None
        assert generation.parent.span_id == outer.get_span_context().span_id
        assert generation.context.trace_id == outer.get_span_context().trace_id


def test_http_spans_nest_under_the_generation(oai: Any, spans: Spans) -> None:
    """While the library call runs, our generation is the current span."""
    from opentelemetry import trace

    seen: list[Any] = []
    original = openai.OpenAI.post

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(trace.get_current_span().get_span_context().span_id)
        return original(self, *args, **kwargs)

    openai.OpenAI.post = spy  # type: ignore[method-assign]
    try:
        oai.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        openai.OpenAI.post = original  # type: ignore[method-assign]
    assert seen == [spans.one().context.span_id]


def test_suppressed_calls_record_nothing(oai: Any, claude: Any, spans: Spans) -> None:
    """Inside ``suppress_instrumentation()`` calls work and make no span."""
    with suppress_instrumentation():
        assert oai.chat.completions.create(model="m", messages=MESSAGES).id
        assert list(oai.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert claude.messages.create(model="c", max_tokens=9, messages=MESSAGES).id
    assert spans.finished() == []


def test_anthropic_async_stream_true(fake: FakeLLM, spans: Spans) -> None:
    """``AsyncMessages.create(stream=True)`` is proxied: events arrive, one generation."""

    async def main() -> list[str]:
        async with anthropic.AsyncAnthropic(
            base_url=fake.url, api_key="test", max_retries=0
        ) as client:
            stream = await client.messages.create(
                model="c", max_tokens=9, messages=MESSAGES, stream=True
            )
            assert isinstance(stream, anthropic.AsyncStream)
            return [event.type async for event in stream]

    kinds = asyncio.run(main())
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert spans.one().attributes["gen_ai.usage.output_tokens"] == 5


@pytest.mark.parametrize("target", ["responses", "embeddings", "anthropic_async"])
def test_f28_errors_on_every_target(target: str, oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """A 500 on each remaining target: the library's exception, the span ERROR."""
    fake.script(Reply(status=500))
    if target == "responses":
        with pytest.raises(openai.InternalServerError):
            oai.responses.create(model="m", input="hi")
    elif target == "embeddings":
        with pytest.raises(openai.InternalServerError):
            oai.embeddings.create(model="e", input="hi")
    else:

        async def main() -> None:
            async with anthropic.AsyncAnthropic(
                base_url=fake.url, api_key="test", max_retries=0
            ) as client:
                await client.messages.create(model="c", max_tokens=9, messages=MESSAGES)

        with pytest.raises(anthropic.InternalServerError):
            asyncio.run(main())
    span = spans.one()
    assert span.attributes["ashr.observation.level"] == "ERROR"
    assert span.status.status_code.name == "ERROR"

"""The Anthropic instrumentor against the real ``anthropic`` client and the loopback fake:
``messages.create`` (sync, async, ``stream=True``) and the ``messages.stream()`` helper, each one
generation with input (system included), output, tool calls and usage."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import pytest

from ashr_labs import _attributes as A
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

pytestmark = pytest.mark.usefixtures("anthropic_instrumented")

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
KWARGS: dict[str, Any] = {
    "model": "claude-test",
    "max_tokens": 64,
    "system": "Be brief.",
    "messages": MESSAGES,
}
TEXT_OUTPUT = {"role": "assistant", "content": "Hello from the fake model."}


def _json(span: Any, key: str) -> Any:
    return json.loads(span.attributes[key])


def _async_client(fake: FakeLLM) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.url, api_key="test", max_retries=0)


def _assert_message(span: Any, output: Any = None) -> None:
    attrs = span.attributes
    assert span.name == "chat claude-test"
    assert span.instrumentation_scope.name == "ashr_labs.instrumentation.anthropic"
    assert attrs[A.ASHR_OBSERVATION_TYPE] == "generation"
    assert attrs[A.ASHR_MODEL] == "claude-test"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[A.GEN_AI_RESPONSE_ID] == "msg_fake1"
    assert attrs[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert _json(span, A.ASHR_INPUT) == [{"role": "system", "content": "Be brief."}, *MESSAGES]
    assert _json(span, A.ASHR_OUTPUT) == (output or TEXT_OUTPUT)
    usage = _json(span, A.ASHR_USAGE)
    assert usage["input_tokens"] == 6 and usage["output_tokens"] == 5


def test_messages_create_sync(claude: Any, spans: Spans) -> None:
    """A message is one generation with the system prompt in its input."""
    message = claude.messages.create(**KWARGS)
    assert message.content[0].text == "Hello from the fake model."
    span = spans.one()
    _assert_message(span)
    assert tuple(span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)


def test_messages_create_async(fake: FakeLLM, spans: Spans) -> None:
    """``AsyncMessages.create`` makes the same generation."""

    async def main() -> Any:
        async with _async_client(fake) as client:
            return await client.messages.create(**KWARGS)

    assert asyncio.run(main()).content[0].text == "Hello from the fake model."
    _assert_message(spans.one())


def test_messages_stream_true(claude: Any, fake: FakeLLM, spans: Spans) -> None:
    """``stream=True``: every event reaches the caller; text and tool input are accumulated."""
    fake.script(Reply(tool_calls=[("get_weather", {"city": "Paris"})]))
    stream = claude.messages.create(stream=True, **KWARGS)
    assert isinstance(stream, anthropic.Stream)
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    output = {
        **TEXT_OUTPUT,
        "tool_calls": [{"id": "toolu_0", "name": "get_weather", "arguments": '{"city": "Paris"}'}],
    }
    span = spans.one()
    _assert_message(span, output)
    assert tuple(span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert isinstance(span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)


def test_messages_stream_helper_sync(claude: Any, spans: Spans) -> None:
    """``messages.stream()``: ``text_stream`` and ``get_final_message()`` work; one generation."""
    with claude.messages.stream(**KWARGS) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake model."
    assert final.usage.output_tokens == 5
    _assert_message(spans.one())


def test_messages_stream_helper_async(fake: FakeLLM, spans: Spans) -> None:
    """The async ``messages.stream()`` helper is traced the same way."""

    async def main() -> str:
        async with _async_client(fake) as client:
            async with client.messages.stream(**KWARGS) as stream:
                parts = [t async for t in stream.text_stream]
                await stream.get_final_message()
        return "".join(parts)

    assert asyncio.run(main()) == "Hello from the fake model."
    _assert_message(spans.one())


def test_f28_errors(claude: Any, fake: FakeLLM, spans: Spans) -> None:
    """A 500 and a 429 raise the library's exceptions; each span ends ERROR."""
    fake.script(Reply(status=500), Reply(status=429, retry_after="0"))
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(**KWARGS)
    with pytest.raises(anthropic.RateLimitError):
        with claude.messages.stream(**KWARGS) as stream:
            list(stream)
    first, second = spans.generations()
    assert first.attributes[A.ASHR_STATUS_MESSAGE].startswith("InternalServerError")
    assert second.attributes[A.ASHR_STATUS_MESSAGE].startswith("RateLimitError")
    assert {s.attributes[A.ASHR_LEVEL] for s in (first, second)} == {"ERROR"}


def test_f32_with_raw_response(claude: Any, spans: Spans) -> None:
    """``with_raw_response`` keeps its headers and ``parse()``; one generation (request side)."""
    raw = claude.messages.with_raw_response.create(**KWARGS)
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse().content[0].text == "Hello from the fake model."
    span = spans.one()
    assert _json(span, A.ASHR_INPUT)[0] == {"role": "system", "content": "Be brief."}


def test_beta_messages(claude: Any, spans: Spans) -> None:
    """``client.beta.messages`` create and stream() are generations too."""
    message = claude.beta.messages.create(**KWARGS)
    assert message.content[0].text == "Hello from the fake model."
    with claude.beta.messages.stream(**KWARGS) as stream:
        assert "".join(stream.text_stream) == "Hello from the fake model."
    gens = spans.generations()
    assert len(gens) == 2
    for span in gens:
        _assert_message(span)

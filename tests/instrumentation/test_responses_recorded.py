"""What the raw and streaming-response paths record, and time to first chunk of the Anthropic
``messages.stream()`` helper.

- anthropic ``with_raw_response`` (the "raw" mode, body read eagerly): the generation carries the
  response, and the caller's ``parse()`` still returns what the library cached;
- ``with_streaming_response`` (both libraries, sync and async): model and usage are recorded
  when the caller reads the body (``parse()``, ``json()``, ``read()``), a parsed stream is
  proxied like ``create(stream=True)``, and a response closed unread ends its span once;
- ``messages.stream()``: time to first chunk is that of the first event, not of the whole stream.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import anthropic
import openai
import pytest

from ashr_labs import _attributes as A
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

pytestmark = pytest.mark.usefixtures("openai_instrumented", "anthropic_instrumented")

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
CLAUDE: dict[str, Any] = {"model": "claude-test", "max_tokens": 64, "messages": ASK}
GPT: dict[str, Any] = {"model": "gpt-test", "messages": ASK}
TEXT = "Hello from the fake model."


def _json(span: Any, key: str) -> Any:
    return json.loads(span.attributes[key])


def _assert_recorded(span: Any, model: str, response_id: str) -> None:
    """The response side is on the span: response model and id, usage, output text."""
    attrs = span.attributes
    assert attrs[A.GEN_AI_RESPONSE_MODEL] == model
    assert attrs[A.GEN_AI_RESPONSE_ID] == response_id
    assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert _json(span, A.ASHR_USAGE)["output_tokens"] == 5
    assert _json(span, A.ASHR_OUTPUT)["content"] == TEXT


def test_anthropic_with_raw_response_records_the_response(claude: Any, spans: Spans) -> None:
    raw = claude.messages.with_raw_response.create(**CLAUDE)
    span = spans.one()  # ended before the caller touched the body
    _assert_recorded(span, "claude-test", "msg_fake1")
    message = raw.parse()
    assert message.content[0].text == TEXT
    assert raw.parse() is message
    assert json.loads(raw.text())["id"] == "msg_fake1"  # the body is still the caller's


def test_anthropic_with_raw_response_async_records_the_response(
    fake: FakeLLM, spans: Spans
) -> None:
    async def main() -> Any:
        async with anthropic.AsyncAnthropic(base_url=fake.url, api_key="t", max_retries=0) as c:
            raw = await c.messages.with_raw_response.create(**CLAUDE)
            return raw, await raw.parse()

    raw, message = asyncio.run(main())
    assert isinstance(raw, anthropic.AsyncAPIResponse)
    assert message.content[0].text == TEXT
    _assert_recorded(spans.one(), "claude-test", "msg_fake1")


def test_anthropic_with_raw_response_body_that_does_not_parse(
    claude: Any, fake: FakeLLM, spans: Spans
) -> None:
    """A body the library cannot parse: the span ends without a response, the caller still gets
    the raw response and the library's own error when it parses."""
    fake.script(Reply(body=["not", "a", "message"]))
    raw = claude.messages.with_raw_response.create(**CLAUDE)
    span = spans.one()
    assert A.ASHR_OUTPUT not in span.attributes
    assert raw.json() == ["not", "a", "message"]


@pytest.mark.parametrize("read", ["parse", "json", "read", "text"])
def test_openai_with_streaming_response_records_what_the_caller_reads(
    oai: Any, spans: Spans, read: str
) -> None:
    with oai.chat.completions.with_streaming_response.create(**GPT) as response:
        assert spans.generations() == []  # nothing read yet: the span is still open
        value = getattr(response, read)()
        _assert_recorded(spans.one(), "gpt-test", "chatcmpl-fake1")
    if read == "parse":
        assert value.choices[0].message.content == TEXT
    assert len(spans.generations()) == 1


def test_anthropic_with_streaming_response_records_usage_sync_and_async(
    claude: Any, fake: FakeLLM, spans: Spans
) -> None:
    with claude.messages.with_streaming_response.create(**CLAUDE) as response:
        assert response.parse().content[0].text == TEXT

    async def main() -> Any:
        async with anthropic.AsyncAnthropic(base_url=fake.url, api_key="t", max_retries=0) as c:
            async with c.messages.with_streaming_response.create(**CLAUDE) as response:
                return await response.json()

    assert asyncio.run(main())["id"] == "msg_fake1"
    for span in spans.generations():
        _assert_recorded(span, "claude-test", "msg_fake1")
    assert len(spans.generations()) == 2


def test_with_streaming_response_stream_is_proxied(oai: Any, spans: Spans) -> None:
    """``stream=True`` under ``with_streaming_response``: the parsed stream records its chunks."""
    with oai.chat.completions.with_streaming_response.create(**GPT, stream=True) as response:
        stream = response.parse()
        assert isinstance(stream, openai.Stream)
        assert response.parse() is stream
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == TEXT
    span = spans.one()
    assert _json(span, A.ASHR_OUTPUT)["content"] == TEXT
    assert isinstance(span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)
    assert A.ASHR_METADATA not in span.attributes  # read to the end: not incomplete


def test_with_streaming_response_stream_left_early_keeps_partial(oai: Any, spans: Spans) -> None:
    with oai.chat.completions.with_streaming_response.create(**GPT, stream=True) as response:
        for chunk in response.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                break
    span = spans.one()
    assert _json(span, A.ASHR_OUTPUT)["content"] == "Hello "
    assert _json(span, A.ASHR_METADATA) == {"incomplete": True, "reason": "closed"}


def test_with_streaming_response_closed_unread_ends_once(oai: Any, spans: Spans) -> None:
    with oai.chat.completions.with_streaming_response.create(**GPT) as response:
        assert response.headers["content-type"] == "application/json"
    span = spans.one()
    assert span.end_time is not None and A.ASHR_OUTPUT not in span.attributes
    response.close()  # a second close is a no-op for the span too
    assert len(spans.generations()) == 1


def test_with_streaming_response_async_openai(fake: FakeLLM, spans: Spans) -> None:
    async def main() -> Any:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="t", max_retries=0
        ) as client:
            async with client.chat.completions.with_streaming_response.create(**GPT) as response:
                assert isinstance(response, openai.AsyncAPIResponse)
                return await response.parse()

    assert asyncio.run(main()).choices[0].message.content == TEXT
    _assert_recorded(spans.one(), "gpt-test", "chatcmpl-fake1")


def _held_stream(fake: FakeLLM) -> threading.Event:
    """The fake sends the first event, then holds the rest until the returned event is set."""
    release = threading.Event()
    fake.script(Reply(hold_after=1, release=release))
    return release


def test_messages_stream_helper_time_to_first_chunk(
    claude: Any, fake: FakeLLM, spans: Spans
) -> None:
    """The first event's arrival, measured while the rest is still held back by the server."""
    release = _held_stream(fake)
    with claude.messages.stream(**CLAUDE) as stream:
        first = next(iter(stream))
        first_seen_ns = time.time_ns()
        assert first.type == "message_start"
        release.set()
        assert stream.get_final_text() == TEXT
    span = spans.one()
    ttfc = span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttfc, float)
    assert 0 < ttfc * 1e9 <= first_seen_ns - span.start_time  # set before the rest was sent
    assert _json(span, A.ASHR_OUTPUT)["content"] == TEXT
    assert A.ASHR_METADATA not in span.attributes


def test_messages_stream_helper_time_to_first_chunk_async(fake: FakeLLM, spans: Spans) -> None:
    async def main() -> str:
        async with anthropic.AsyncAnthropic(base_url=fake.url, api_key="t", max_retries=0) as c:
            async with c.messages.stream(**CLAUDE) as stream:
                parts = [t async for t in stream.text_stream]
        return "".join(parts)

    assert asyncio.run(main()) == TEXT
    span = spans.one()
    assert isinstance(span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)
    assert _json(span, A.ASHR_USAGE)["output_tokens"] == 5


def test_messages_stream_helper_left_early_keeps_partial(claude: Any, spans: Spans) -> None:
    with claude.messages.stream(**CLAUDE) as stream:
        for text in stream.text_stream:
            assert text
            break
    span = spans.one()
    assert _json(span, A.ASHR_OUTPUT)["content"] == "Hello "
    assert _json(span, A.ASHR_METADATA)["incomplete"] is True

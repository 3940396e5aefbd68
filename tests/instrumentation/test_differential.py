"""The same program with and without instrumentation behaves identically (F29): result types,
``isinstance`` checks, ``dir()`` (a superset of the baseline's), outputs and exceptions, for plain
calls, streams, ``with``/``async with``, ``close()``, raw and streaming responses and Anthropic's
helper."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from ashr_labs_instrumentation import instrument_all, uninstrument_all

from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

MESSAGES = [{"role": "user", "content": "hi"}]
Result = dict[str, Any]


def _clients(fake: FakeLLM) -> tuple[Any, Any]:
    oai = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    claude = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    return oai, claude


def _shape(obj: Any, *types: type) -> Result:
    return {
        "class": obj.__class__.__name__,
        "isinstance": [isinstance(obj, t) for t in types],
        "dir": set(dir(obj)),
    }


def chat_create(fake: FakeLLM) -> Result:
    oai, _ = _clients(fake)
    result = oai.chat.completions.create(model="m", messages=MESSAGES)
    return {**_shape(result, openai.types.chat.ChatCompletion), "out": result.model_dump()}


def chat_stream(fake: FakeLLM) -> Result:
    oai, _ = _clients(fake)
    stream = oai.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    shape = _shape(stream, openai.Stream)
    return {
        **shape,
        "out": [c.model_dump() for c in stream],
        "response": stream.response.__class__.__name__,
    }


def chat_stream_with_and_close(fake: FakeLLM) -> Result:
    oai, _ = _clients(fake)
    with oai.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        first = next(stream).model_dump()
    # The rest is held back, so what next() does after close() does not race the network.
    release = threading.Event()
    fake.script(Reply(hold_after=1, release=release))
    again = oai.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    next(again)
    closed = again.close()
    try:
        next(again)
        after = "no error"
    except Exception as exc:
        after = type(exc).__name__
    finally:
        release.set()
    return {
        "first": first,
        "closed": closed,
        "after_close": after,
        "entered_is_stream": stream.__class__.__name__,
    }


def raw_response(fake: FakeLLM) -> Result:
    oai, _ = _clients(fake)
    raw = oai.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    parsed = raw.parse()
    return {
        **_shape(raw),
        "parsed": parsed.model_dump(),
        "same": raw.parse() is parsed,
        "content_type": raw.headers["content-type"],
        "status": raw.status_code,
    }


def async_stream(fake: FakeLLM) -> Result:
    async def main() -> Result:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="test", max_retries=0
        ) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async with stream as entered:
                out = [c.model_dump() async for c in entered]
            return {
                **_shape(stream, openai.AsyncStream),
                "out": out,
                "entered": entered.__class__.__name__,
            }

    return asyncio.run(main())


def anthropic_helper(fake: FakeLLM) -> Result:
    _, claude = _clients(fake)
    with claude.messages.stream(model="c", max_tokens=9, messages=MESSAGES) as stream:
        text = list(stream.text_stream)
        final = stream.get_final_message().model_dump()
        shape = _shape(stream, anthropic.lib.streaming.MessageStream)
    return {**shape, "text": text, "final": final}


def anthropic_stream_true(fake: FakeLLM) -> Result:
    _, claude = _clients(fake)
    stream = claude.messages.create(model="c", max_tokens=9, messages=MESSAGES, stream=True)
    return {**_shape(stream, anthropic.Stream), "out": [e.model_dump() for e in stream]}


def streaming_response(fake: FakeLLM) -> Result:
    oai, _ = _clients(fake)
    create = oai.chat.completions.with_streaming_response.create
    with create(model="m", messages=MESSAGES) as response:
        shape = _shape(response, openai.APIResponse)
        parsed = response.parse()
        same = response.parse() is parsed
    with create(model="m", messages=MESSAGES, stream=True) as streamed:
        stream = streamed.parse()
        chunks = [c.model_dump() for c in stream]
    with create(model="m", messages=MESSAGES) as unread:
        headers = unread.headers["content-type"]
    return {
        **shape,
        "parsed": parsed.model_dump(),
        "same": same,
        "stream": (stream.__class__.__name__, isinstance(stream, openai.Stream), chunks),
        "unread": (headers, unread.http_response.is_closed),
    }


def anthropic_raw_and_streaming(fake: FakeLLM) -> Result:
    _, claude = _clients(fake)
    raw = claude.messages.with_raw_response.create(model="c", max_tokens=9, messages=MESSAGES)
    parsed = raw.parse()

    async def read_async() -> Any:
        async with anthropic.AsyncAnthropic(base_url=fake.url, api_key="t", max_retries=0) as c:
            create = c.messages.with_streaming_response.create
            async with create(model="c", max_tokens=9, messages=MESSAGES) as response:
                return response.__class__.__name__, await response.json()

    return {
        **_shape(raw, anthropic.APIResponse),
        "parsed": parsed.model_dump(),
        "same": raw.parse() is parsed,
        "text": raw.text(),
        "async_streaming": asyncio.run(read_async()),
    }


def errors(fake: FakeLLM) -> Result:
    oai, claude = _clients(fake)
    fake.script(Reply(status=500), Reply(status=429, retry_after="0"))
    seen = []
    for call in (
        lambda: oai.chat.completions.create(model="m", messages=MESSAGES),
        lambda: claude.messages.create(model="c", max_tokens=9, messages=MESSAGES),
    ):
        try:
            call()
        except Exception as exc:
            seen.append((type(exc).__name__, getattr(exc, "status_code", None), str(exc)))
    return {"errors": seen}


SCENARIOS: list[Callable[[FakeLLM], Result]] = [
    chat_create,
    chat_stream,
    chat_stream_with_and_close,
    raw_response,
    async_stream,
    anthropic_helper,
    anthropic_stream_true,
    streaming_response,
    anthropic_raw_and_streaming,
    errors,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_f29_same_behaviour(
    scenario: Callable[[FakeLLM], Result], fake: FakeLLM, spans: Spans
) -> None:
    """Each scenario gives the same observable results instrumented as not."""
    baseline = scenario(fake)
    instrument_all(tracer_provider=spans.provider)
    try:
        traced = scenario(fake)
    finally:
        uninstrument_all()
    assert spans.generations(), "the instrumented run made no generation"
    base_dir, traced_dir = baseline.pop("dir", set()), traced.pop("dir", set())
    assert traced_dir >= base_dir
    assert traced == baseline

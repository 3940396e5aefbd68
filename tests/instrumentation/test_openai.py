"""The OpenAI instrumentor against the real ``openai`` client and the loopback fake: one
generation per call with model, input, output, usage and GenAI attributes, for every target
sync, async, streaming and failing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from ashr_labs import _attributes as A
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

pytestmark = pytest.mark.usefixtures("openai_instrumented")

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def _json(span: Any, key: str) -> Any:
    return json.loads(span.attributes[key])


def _async_client(fake: FakeLLM) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)


def _assert_chat(span: Any, *, stream: bool = False) -> None:
    attrs = span.attributes
    assert span.name == "chat gpt-test"
    assert span.instrumentation_scope.name.startswith("ashr_labs")
    assert attrs[A.ASHR_OBSERVATION_TYPE] == "generation"
    assert attrs[A.ASHR_MODEL] == "gpt-test"
    assert attrs[A.GEN_AI_REQUEST_MODEL] == "gpt-test"
    assert attrs[A.GEN_AI_RESPONSE_MODEL] == "gpt-test"
    assert attrs[A.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[A.GEN_AI_SYSTEM] == "openai"
    assert attrs[A.GEN_AI_RESPONSE_ID] == "chatcmpl-fake1"
    assert tuple(attrs[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert _json(span, A.ASHR_INPUT) == MESSAGES
    assert _json(span, A.ASHR_OUTPUT) == {
        "role": "assistant",
        "content": "Hello from the fake model.",
    }
    if stream:
        assert attrs[A.GEN_AI_REQUEST_STREAM] is True
        assert isinstance(attrs[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)
    else:
        assert _json(span, A.ASHR_USAGE) == {"input_tokens": 6, "output_tokens": 5}
        assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == 6
        assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 5


def test_chat_create_sync(oai: Any, spans: Spans) -> None:
    """A chat completion is one generation with input, output, usage and GenAI attributes."""
    result = oai.chat.completions.create(model="gpt-test", messages=MESSAGES, temperature=0.2)
    assert result.choices[0].message.content == "Hello from the fake model."
    span = spans.one()
    _assert_chat(span)
    assert span.attributes[A.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert span.status.is_unset


def test_chat_create_async(fake: FakeLLM, spans: Spans) -> None:
    """``AsyncCompletions.create`` makes the same generation."""

    async def main() -> Any:
        async with _async_client(fake) as client:
            return await client.chat.completions.create(model="gpt-test", messages=MESSAGES)

    result = asyncio.run(main())
    assert result.choices[0].message.content == "Hello from the fake model."
    _assert_chat(spans.one())


def test_chat_stream_sync(oai: Any, spans: Spans) -> None:
    """``stream=True`` yields every chunk unchanged and the span ends at exhaustion."""
    stream = oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == "Hello from the fake model."
    _assert_chat(spans.one(), stream=True)


def test_chat_stream_async(fake: FakeLLM, spans: Spans) -> None:
    """An async stream is proxied the same way (``async for``, ``isinstance``)."""

    async def main() -> str:
        async with _async_client(fake) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            assert isinstance(stream, openai.AsyncStream)
            return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(main()) == "Hello from the fake model."
    _assert_chat(spans.one(), stream=True)


def test_chat_stream_helper(oai: Any, spans: Spans) -> None:
    """``chat.completions.stream()`` goes through ``create`` once: one generation, full output."""
    with oai.chat.completions.stream(model="gpt-test", messages=MESSAGES) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "content.done" in events
    assert final.choices[0].message.content == "Hello from the fake model."
    _assert_chat(spans.one(), stream=True)


def test_chat_tool_calls(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """Tool calls are part of the output, streamed or not."""
    call = ("get_weather", {"city": "Paris"})
    fake.script(Reply(text="", tool_calls=[call]), Reply(text="", tool_calls=[call]))
    oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    list(oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))
    expected = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_0", "name": "get_weather", "arguments": '{"city": "Paris"}'}],
    }
    gens = spans.generations()
    assert [_json(s, A.ASHR_OUTPUT) for s in gens] == [expected, expected]
    assert all(
        tuple(s.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",) for s in gens
    )


def test_chat_usage_details(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """Cached and reasoning tokens are recorded when the server reports them."""
    fake.script(Reply(cached_tokens=3, reasoning_tokens=2))
    oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    span = spans.one()
    assert span.attributes[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert span.attributes[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
    assert _json(span, A.ASHR_USAGE) == {
        "input_tokens": 6,
        "output_tokens": 5,
        "cache_read_input_tokens": 3,
        "reasoning_tokens": 2,
    }


def test_stream_usage_from_caller_is_kept(oai: Any, spans: Spans) -> None:
    """A usage chunk the caller asked for reaches the caller and the span."""
    chunks = list(
        oai.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert _json(spans.one(), A.ASHR_USAGE) == {"input_tokens": 6, "output_tokens": 5}


def test_inject_stream_usage(fake: FakeLLM, oai: Any, openai_instrumented: Any) -> None:
    """``inject_stream_usage=True`` gets usage for the span and hides the injected chunk."""
    from .conftest import Spans as _Spans

    openai_instrumented.uninstrument()
    own = _Spans()
    openai_instrumented.instrument(tracer_provider=own.provider, inject_stream_usage=True)
    chunks = list(oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))
    assert all(c.choices for c in chunks)
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    assert _json(own.one(), A.ASHR_USAGE) == {"input_tokens": 6, "output_tokens": 5}


def test_with_raw_response(oai: Any, spans: Spans) -> None:
    """``with_raw_response`` keeps its type, headers and ``parse()``; one generation."""
    raw = oai.chat.completions.with_raw_response.create(model="gpt-test", messages=MESSAGES)
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse().choices[0].message.content == "Hello from the fake model."
    _assert_chat(spans.one())


def test_with_streaming_response(oai: Any, spans: Spans) -> None:
    """``with_streaming_response`` works unchanged and records the request side."""
    with oai.chat.completions.with_streaming_response.create(
        model="gpt-test", messages=MESSAGES
    ) as response:
        assert response.parse().choices[0].message.content == "Hello from the fake model."
    span = spans.one()
    assert _json(span, A.ASHR_INPUT) == MESSAGES


def test_chat_parse(oai: Any, spans: Spans) -> None:
    """``chat.completions.parse()`` posts on its own and is one generation too."""
    result = oai.chat.completions.parse(model="gpt-test", messages=MESSAGES)
    assert result.choices[0].message.content == "Hello from the fake model."
    _assert_chat(spans.one())


def _assert_responses(span: Any) -> None:
    assert span.attributes[A.GEN_AI_RESPONSE_ID] == "resp_fake1"
    assert _json(span, A.ASHR_INPUT) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert _json(span, A.ASHR_OUTPUT) == {
        "role": "assistant",
        "content": "Hello from the fake model.",
    }
    assert _json(span, A.ASHR_USAGE) == {"input_tokens": 1, "output_tokens": 5}
    assert tuple(span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ("completed",)


def test_responses_sync_and_stream(oai: Any, spans: Spans) -> None:
    """Responses API: create, ``stream=True`` and the ``stream()`` helper, one span each."""
    kwargs: dict[str, Any] = {"model": "gpt-test", "input": "hi", "instructions": "Be brief."}
    assert oai.responses.create(**kwargs).output_text == "Hello from the fake model."
    events = list(oai.responses.create(stream=True, **kwargs))
    assert events[-1].type == "response.completed"
    with oai.responses.stream(**kwargs) as stream:
        assert stream.get_final_response().output_text == "Hello from the fake model."
    gens = spans.generations()
    assert len(gens) == 3
    for span in gens:
        _assert_responses(span)


def test_responses_async(fake: FakeLLM, spans: Spans) -> None:
    """Async Responses API calls, plain and streamed."""
    kwargs: dict[str, Any] = {"model": "gpt-test", "input": "hi", "instructions": "Be brief."}

    async def main() -> None:
        async with _async_client(fake) as client:
            await client.responses.create(**kwargs)
            stream = await client.responses.create(stream=True, **kwargs)
            [e async for e in stream]

    asyncio.run(main())
    gens = spans.generations()
    assert len(gens) == 2
    for span in gens:
        _assert_responses(span)


def test_embeddings(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """Embeddings: input recorded, vectors summarised, usage kept; sync and async."""
    result = oai.embeddings.create(model="emb-test", input=["a", "b"])
    assert len(result.data) == 2

    async def main() -> None:
        async with _async_client(fake) as client:
            await client.embeddings.create(model="emb-test", input="c")

    asyncio.run(main())
    first, second = spans.generations()
    assert first.attributes[A.GEN_AI_OPERATION_NAME] == "embeddings"
    assert _json(first, A.ASHR_INPUT) == ["a", "b"]
    assert _json(first, A.ASHR_OUTPUT) == {"embeddings": 2, "dimensions": 3}
    assert _json(first, A.ASHR_USAGE) == {"input_tokens": 6}
    assert _json(second, A.ASHR_INPUT) == "c"


@pytest.mark.parametrize("status", [500, 429])
def test_f28_http_errors_sync_and_async(oai: Any, fake: FakeLLM, spans: Spans, status: int) -> None:
    """A failing call raises the library's own exception; the span ends once with ERROR."""
    fake.script(Reply(status=status, error_message="upstream broke"))
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value.status_code == status

    fake.script(Reply(status=status))

    async def main() -> None:
        async with _async_client(fake) as client:
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)

    with pytest.raises(openai.APIStatusError):
        asyncio.run(main())
    for span in spans.generations():
        assert span.status.is_ok is False and span.status.status_code.name == "ERROR"
        assert span.attributes[A.ASHR_LEVEL] == "ERROR"
        assert span.attributes[A.ASHR_STATUS_MESSAGE].startswith(type(caught.value).__name__)
    assert len(spans.generations()) == 2

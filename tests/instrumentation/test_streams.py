"""Stream proxies end their span exactly once, pass chunks on as they arrive, and record
partial output with an incomplete marker when a stream is abandoned (F30); a cancelled await
ends the span with ERROR and ``CancelledError`` (F31)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from typing import Any

import openai
import pytest

from ashr_labs import _attributes as A
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

pytestmark = pytest.mark.usefixtures("openai_instrumented", "anthropic_instrumented")

MESSAGES = [{"role": "user", "content": "hi"}]


def _stream(oai: Any) -> Any:
    return oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)


def _meta(span: Any) -> Any:
    return json.loads(span.attributes[A.ASHR_METADATA])


def _clean(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert bad == []
    assert "Failed to detach context" not in caplog.text


def test_f30_chunks_arrive_unbuffered(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """The first chunk reaches the caller while the server still holds the rest."""
    release = threading.Event()
    fake.script(Reply(hold_after=1, release=release))
    stream = _stream(oai)
    started = time.monotonic()
    first = next(stream)
    assert time.monotonic() - started < 2.0, "the proxy waited for more than one chunk"
    assert first.choices[0].delta.role == "assistant" and not release.is_set()
    release.set()
    rest = "".join(c.choices[0].delta.content or "" for c in stream)
    assert rest == "Hello from the fake model."
    assert A.ASHR_METADATA not in spans.one().attributes


def test_f30_break_then_gc(oai: Any, spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    """Leaving a stream by ``break`` ends the span once, on collection, with the partial output."""
    caplog.set_level(logging.DEBUG)
    stream = _stream(oai)
    for chunk in stream:
        if chunk.choices[0].delta.content:
            break
    assert spans.generations() == []
    del stream, chunk
    gc.collect()
    span = spans.one()
    assert _meta(span) == {"incomplete": True, "reason": "abandoned"}
    assert json.loads(span.attributes[A.ASHR_OUTPUT])["content"] == "Hello "
    _clean(caplog)


def test_f30_close_and_exit(oai: Any, spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    """``close()`` and leaving ``with`` end the span at once; a later GC does not end it again."""
    stream = _stream(oai)
    next(stream)
    stream.close()
    with _stream(oai) as second:
        next(second)
    assert len(spans.generations()) == 2
    del stream, second
    gc.collect()
    gens = spans.generations()
    assert len(gens) == 2
    assert [_meta(s)["reason"] for s in gens] == ["closed", "closed"]
    _clean(caplog)


def test_f30_helper_stream_early_exit(oai: Any, claude: Any, spans: Spans) -> None:
    """Leaving a helper stream's ``with`` early ends the span when the helper closes it."""
    with oai.chat.completions.stream(model="gpt-test", messages=MESSAGES) as stream:
        next(iter(stream))
    with claude.messages.stream(model="claude-test", max_tokens=9, messages=MESSAGES) as helper:
        next(iter(helper))
    gens = spans.generations()
    assert len(gens) == 2
    assert [_meta(s)["reason"] for s in gens] == ["closed", "closed"]


def test_f30_async_abandoned(fake: FakeLLM, spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    """An async stream abandoned after one item ends its span once when collected."""

    async def main() -> None:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="test", max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            await stream.__anext__()
            await stream.close()
            del stream
            gc.collect()

    asyncio.run(main())
    gc.collect()
    assert _meta(spans.one())["reason"] == "closed"
    _clean(caplog)


def test_f30_stream_error_mid_way(oai: Any, fake: FakeLLM, spans: Spans) -> None:
    """An error while iterating propagates unchanged and ends the span ERROR with partial output."""
    release = threading.Event()
    fake.script(Reply(hold_after=2, release=release))
    client = oai.with_options(timeout=0.3)
    stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    next(stream), next(stream)
    with pytest.raises(openai.APITimeoutError):
        next(stream)
    release.set()
    span = spans.one()
    assert span.attributes[A.ASHR_LEVEL] == "ERROR"
    assert json.loads(span.attributes[A.ASHR_OUTPUT])["content"] == "Hello "


def test_f31_cancelled_await(fake: FakeLLM, spans: Spans) -> None:
    """Cancelling a task inside an instrumented await: CancelledError, span ERROR once."""
    hold = threading.Event()
    fake.script(Reply(hold=hold))

    async def main() -> None:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="test", max_retries=0
        ) as client:
            task = asyncio.create_task(
                client.chat.completions.create(model="gpt-test", messages=MESSAGES)
            )
            await asyncio.to_thread(fake.wait_for, lambda seen: len(seen) == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    try:
        asyncio.run(main())
    finally:
        hold.set()
    span = spans.one()
    assert span.attributes[A.ASHR_LEVEL] == "ERROR"
    assert span.attributes[A.ASHR_STATUS_MESSAGE] == "CancelledError"
    assert span.status.description == "CancelledError"


def test_f30_async_abandoned_without_close(
    fake: FakeLLM, spans: Spans, caplog: pytest.LogCaptureFixture
) -> None:
    """An async stream dropped after one item (no close) ends its span once, as abandoned."""

    async def main() -> None:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="test", max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            await stream.__anext__()
            del stream
            gc.collect()
            assert _meta(spans.one()) == {"incomplete": True, "reason": "abandoned"}

    asyncio.run(main())
    gc.collect()
    assert len(spans.generations()) == 1
    _clean(caplog)


def test_f30_async_stream_closed_from_another_task(fake: FakeLLM, spans: Spans) -> None:
    """One task reads, another closes the stream: the span ends once, with the partial output."""
    release = threading.Event()
    fake.script(Reply(hold_after=2, release=release))

    async def main() -> None:
        async with openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key="test", max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            await stream.__anext__()
            await stream.__anext__()

            async def read_rest() -> BaseException | None:
                try:
                    async for _ in stream:
                        pass
                except Exception as exc:
                    return exc
                return None

            reader = asyncio.create_task(read_rest())
            await asyncio.sleep(0.05)
            await asyncio.create_task(stream.close())
            release.set()
            await asyncio.wait_for(reader, 5)

    asyncio.run(main())
    span = spans.one()
    assert json.loads(span.attributes[A.ASHR_OUTPUT])["content"] == "Hello "
    assert _meta(span) == {"incomplete": True, "reason": "closed"}
    assert A.ASHR_LEVEL not in span.attributes


def test_streams_from_many_threads(oai: Any, spans: Spans) -> None:
    """Eight threads streaming at once: eight generations, each with its own full output."""
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> str:
        stream = oai.chat.completions.create(model=f"gpt-{i}", messages=MESSAGES, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in stream)

    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(work, range(8)))
    assert texts == ["Hello from the fake model."] * 8
    gens = spans.generations()
    assert sorted(s.attributes[A.ASHR_MODEL] for s in gens) == sorted(f"gpt-{i}" for i in range(8))
    assert all(json.loads(s.attributes[A.ASHR_OUTPUT])["content"] == texts[0] for s in gens)

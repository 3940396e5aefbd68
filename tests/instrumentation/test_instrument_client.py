"""``ashr_labs.instrument(client)`` end to end: model calls inside ``client.trace()`` become
generations of that trace, calls outside any trace become traces of their own, all stored by
the real local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanProcessor

import ashr_labs
from tests.support.fake_llm import FakeLLM

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def instrumented(client: Any) -> Iterator[Any]:
    assert ashr_labs.instrument(client) == ["openai", "anthropic"]
    yield client
    ashr_labs.uninstrument()


def _generations(client: Any, trace_id: str) -> list[dict[str, Any]]:
    trace = client.get_observability_trace(trace_id)["trace"]
    return [o for o in trace["observations"] if o["type"] == "generation"]


def test_calls_inside_a_trace_are_its_generations(instrumented: Any, oai: Any, claude: Any) -> None:
    """An OpenAI and an Anthropic call inside ``client.trace()`` are two generations in it."""
    with instrumented.trace("agent-run", user_id="u1") as trace:
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
        claude.messages.create(model="claude-test", max_tokens=9, messages=MESSAGES)
    report = instrumented.flush(5.0)
    assert report["complete"], report
    generations = _generations(instrumented, trace.trace_id)
    assert sorted(g["model"] for g in generations) == ["claude-test", "gpt-test"]
    gpt = next(g for g in generations if g["model"] == "gpt-test")
    assert gpt["usage"]["input_tokens"] == 1 and gpt["usage"]["output_tokens"] == 5
    assert "Hello from the fake model." in str(gpt["output"])


def test_call_outside_a_trace_is_its_own_trace(instrumented: Any, oai: Any, fake: FakeLLM) -> None:
    """A model call with no active trace is exported as a trace holding one generation."""
    from opentelemetry import trace as otel_trace

    seen: list[str] = []

    class Capture(SpanProcessor):
        def on_end(self, span: Any) -> None:
            seen.append(format(span.context.trace_id, "032x"))

    provider = instrumented.tracer_provider
    provider.add_span_processor(Capture())
    assert otel_trace.get_current_span().get_span_context().is_valid is False
    oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert instrumented.flush(5.0)["complete"]
    assert len(seen) == 1
    generations = _generations(instrumented, seen[0])
    assert [g["model"] for g in generations] == ["gpt-test"]


def test_instrument_and_undo_are_quiet(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Instrumenting, re-instrumenting and undoing log nothing at WARNING or above."""
    import logging

    caplog.set_level(logging.WARNING)
    ashr_labs.instrument(client)
    ashr_labs.instrument()  # the most recent client: moves nothing, warns nothing
    ashr_labs.uninstrument()
    ashr_labs.uninstrument()
    assert [r.getMessage() for r in caplog.records] == []


def test_f36_canaries_end_to_end(instrumented: Any, oai: Any, fake: FakeLLM) -> None:
    """Through the real exporter and server: content canaries stored, secret canaries never."""
    from tests.support.fake_llm import Reply

    secret = "sk-canary0123456789abcdefXYZ"
    fake.script(Reply(text=f"completion-canary-e2e {secret}"))
    with instrumented.trace("canary-run") as trace:
        oai.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": f"prompt-canary-e2e {secret}"}]
        )
    assert instrumented.flush(5.0)["complete"]
    stored = str(instrumented.get_observability_trace(trace.trace_id))
    assert "prompt-canary-e2e" in stored and "completion-canary-e2e" in stored
    assert secret not in stored

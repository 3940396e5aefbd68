"""One model call seen by two instrumentations maps to one generation in the exporter payload.

anthropic 2.x makes its own GenAI ``CLIENT`` span per API call, which nests under our generation;
contrib's openai-v2 may wrap outside or inside ours. In every order the payload holds exactly one
generation per call (ours), and the other span stays as a ``span`` observation with its metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from ashr_labs.observability._mapping import build_trace_payload
from tests.instrumentation.conftest import Spans
from tests.support.fake_llm import FakeLLM

ASK = [{"role": "user", "content": "hi"}]


def _payload(spans: list[ReadableSpan]) -> dict[str, Any]:
    trace_id = spans[0].context.trace_id
    return build_trace_payload(spans, trace_id=trace_id)


def _by_type(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in payload["observations"] if o["type"] == kind]


@pytest.fixture
def claude_on_provider(fake: FakeLLM, spans: Spans) -> Iterator[Any]:
    """The real anthropic client whose own call spans go to the test's provider."""
    import anthropic

    client = anthropic.Anthropic(
        base_url=fake.url,
        api_key="test",
        max_retries=0,
        open_telemetry={"tracer_provider": spans.provider},
    )
    yield client
    client.close()


def test_anthropic_call_span_under_our_generation_is_a_span(
    spans: Spans, anthropic_instrumented: Any, claude_on_provider: Any
) -> None:
    tracer = spans.provider.get_tracer("my.app")
    with tracer.start_as_current_span("agent"):
        claude_on_provider.messages.create(model="claude-x", max_tokens=9, messages=ASK)
    finished = spans.finished()
    ours = spans.one()
    library = [s for s in finished if s.instrumentation_scope.name == "com.anthropic.sdk.python"]
    assert len(library) == 1 and library[0].parent.span_id == ours.context.span_id
    payload = _payload(finished)
    generations = _by_type(payload, "generation")
    assert [g["id"] for g in generations] == [format(ours.context.span_id, "016x")]
    assert generations[0]["model"] == "claude-x" and generations[0]["usage"]
    (inner,) = [o for o in payload["observations"] if o["name"] == library[0].name]
    assert inner["type"] == "span"
    assert inner["parent_observation_id"] == generations[0]["id"]
    assert inner["metadata"]["gen_ai.provider.name"] == "anthropic"


def _chat_span(tracer: Any, name: str, **extra: Any) -> Any:
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", **extra}
    return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def test_foreign_genai_span_outside_ours_yields_to_ours(
    spans: Spans, openai_instrumented: Any, oai: Any
) -> None:
    """Another instrumentor wrapped outside ours: its span holds our generation, ours wins."""
    tracer = spans.provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with spans.provider.get_tracer("my.app").start_as_current_span("agent"):
        with _chat_span(tracer, "chat outer", **{"gen_ai.usage.input_tokens": 3}):
            oai.chat.completions.create(model="gpt-x", messages=ASK)
    payload = _payload(spans.finished())
    generations = _by_type(payload, "generation")
    assert [g["name"] for g in generations] == [spans.one().name]
    (outer,) = [o for o in payload["observations"] if o["name"] == "chat outer"]
    assert outer["type"] == "span"


def test_nested_foreign_genai_spans_map_once_agent_spans_do_not_swallow_calls(
    spans: Spans,
) -> None:
    """Without any Ashr span: the outer model call stays the generation; an agent span that
    carries ``gen_ai.*`` holds two separate calls, which both stay generations."""
    tracer = spans.provider.get_tracer("some.framework")
    agent_attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "m"}
    with tracer.start_as_current_span("agent", attributes=agent_attrs):
        with _chat_span(tracer, "call 1"):
            with _chat_span(tracer, "transport of call 1"):
                pass
        with _chat_span(tracer, "call 2"):
            pass
    payload = _payload(spans.finished())
    types = {o["name"]: o["type"] for o in payload["observations"]}
    assert types == {
        "agent": "span",
        "call 1": "generation",
        "transport of call 1": "span",
        "call 2": "generation",
    }

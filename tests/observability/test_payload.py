"""The exported payload: protocol.md §2.2 shape plus our optional keys, foreign-span mapping."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from ashr_labs import AshrLabsClient, observe
from tests.observability.conftest import CANARY_KEY, Hostile, HostileKey, ingested

INGEST = "ingest_observability_trace"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def test_payload_shape_matches_the_protocol(traced: Any, backend: Any) -> None:
    """One ingest call per trace, with the protocol's keys, formats, order and parent ids."""
    client, _ = traced
    with client.trace("handle", user_id="u1", metadata={"k": "v"}, tags=["a"]) as t:
        with t.generation("llm", model="m", input=[{"role": "user", "content": "q"}]) as g:
            g.end(output="a", usage={"input_tokens": 3, "output_tokens": 4})
        with t.span("tool:x", input={"q": 1}) as s:
            with s.span("inner"):
                pass
            s.event("hit", input={"n": 1}, level="WARNING")
        t.event("guard", input={"passed": True})
        result = t.end(output={"done": True})
    assert result["status"] == "queued"
    report = client.flush(5)
    assert report["sent"] == 1 and report["complete"] and report["failed"] == 0
    (body,) = backend.bodies("ingest_observability_trace")
    assert body["idempotency_key"] == t.trace_id
    trace = body["trace"]
    assert trace["id"] == t.trace_id and trace["name"] == "handle"
    assert trace["user_id"] == "u1" and trace["session_id"] is None
    assert trace["metadata"] == {"k": "v"} and trace["tags"] == ["a"]
    assert trace["output"] == {"done": True}
    assert TIME.match(trace["start_time"]) and TIME.match(trace["end_time"])
    assert "incomplete" not in trace
    obs = trace["observations"]
    assert [o["name"] for o in obs] == ["llm", "tool:x", "inner", "hit", "guard"]
    by_name = {o["name"]: o for o in obs}
    for o in obs:
        assert HEX16.match(o["id"]) and TIME.match(o["start_time"])
        assert {"id", "type", "name", "parent_observation_id", "input", "metadata", "level"} <= set(
            o
        )
    assert by_name["llm"]["type"] == "generation" and by_name["llm"]["model"] == "m"
    assert by_name["llm"]["usage"] == {"input_tokens": 3, "output_tokens": 4}
    assert by_name["llm"]["parent_observation_id"] is None and TIME.match(
        by_name["llm"]["end_time"]
    )
    assert by_name["inner"]["parent_observation_id"] == by_name["tool:x"]["id"]
    assert by_name["hit"]["type"] == "event" and "end_time" not in by_name["hit"]
    assert by_name["hit"]["parent_observation_id"] == by_name["tool:x"]["id"]
    assert by_name["hit"]["level"] == "WARNING" and by_name["hit"]["input"] == {"n": 1}
    assert by_name["guard"]["parent_observation_id"] is None
    assert "output" not in by_name["inner"]


def test_observe_root_carries_input_and_output(traced: Any, backend: Any) -> None:
    """@observe outside a trace opens one: arguments as input, return value as output."""
    client, _ = traced

    @observe(name="agent")
    def agent(question: str, *, depth: int = 1) -> dict[str, int]:
        return {"answer": len(question) + depth}

    assert agent("abc", depth=2) == {"answer": 5}
    client.flush(5)
    (trace,) = ingested(backend)
    assert trace["name"] == "agent"
    assert trace["input"] == {"question": "abc", "depth": 2}
    assert trace["output"] == {"answer": 5}


def test_foreign_genai_span_inside_an_ashr_trace_becomes_a_generation(
    make_client: Any, backend: Any
) -> None:
    """A span with OpenLLMetry-style gen_ai attributes maps to a generation; mask applies."""
    client = make_client(backend.url, mask=lambda v: "MASKED" if "secret" in str(v) else v)
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai")
    with client.trace("t"):
        with tracer.start_as_current_span("openai.chat") as span:
            span.set_attribute("gen_ai.request.model", "gpt-x")
            span.set_attribute("gen_ai.usage.prompt_tokens", 7)
            span.set_attribute("gen_ai.usage.completion_tokens", 2)
            span.set_attribute("gen_ai.prompt.0.role", "user")
            span.set_attribute("gen_ai.prompt.0.content", "a secret question")
            span.set_attribute("gen_ai.completion.0.content", "fine")
            span.set_attribute("http.auth", f"Bearer {CANARY_KEY}")
    client.flush(5)
    (trace,) = ingested(backend)
    (gen,) = trace["observations"]
    assert gen["type"] == "generation" and gen["model"] == "gpt-x"
    assert gen["usage"] == {"input_tokens": 7, "output_tokens": 2}
    assert gen["input"] == "MASKED"
    assert gen["output"] == [{"content": "fine"}]
    assert CANARY_KEY not in json.dumps(backend.bodies())


def test_user_provider_keeps_only_llm_trees(backend: Any) -> None:
    """tracer_provider=: app-only trees are dropped; trees with a GenAI span are sent whole."""
    provider = TracerProvider()
    client = AshrLabsClient(
        api_key=CANARY_KEY, base_url=backend.url, tracer_provider=provider, schedule_delay_ms=20
    )
    try:
        app = provider.get_tracer("app")
        with app.start_as_current_span("GET /health"):
            with app.start_as_current_span("db"):
                pass
        with app.start_as_current_span("POST /chat"):
            with app.start_as_current_span("llm") as llm:
                llm.set_attribute("gen_ai.request.model", "m")
        with client.trace("ashr"):
            pass
        assert client.flush(5)["complete"]
        names = sorted(t["name"] for t in ingested(backend))
        assert names == ["POST /chat", "ashr"]
        chat = next(t for t in ingested(backend) if t["name"] == "POST /chat")
        kinds = {o["name"]: o["type"] for o in chat["observations"]}
        assert kinds == {"POST /chat": "span", "llm": "generation"}
    finally:
        client.close()
        provider.shutdown()


def test_f36_processors_on_the_client_provider_see_masked_values(traced: Any, backend: Any) -> None:
    """An in-memory processor on client.tracer_provider and the backend never see secrets."""
    client, memory = traced
    with client.trace("t") as t:
        t.span("s", input={"api_key": "k-raw", "text": f"my key {CANARY_KEY}"}).end()
    client.flush(5)
    seen = json.dumps([dict(s.attributes) for s in memory.get_finished_spans()])
    sent = json.dumps(backend.bodies())
    for blob in (seen, sent):
        assert CANARY_KEY not in blob and "k-raw" not in blob
    assert "my key [REDACTED]" in sent


class _BadStr(str):
    def __str__(self) -> str:
        raise RuntimeError("str")

    __repr__ = __str__


class _BadInt(int):
    def __str__(self) -> str:
        raise RuntimeError("str")

    __repr__ = __str__


hostile = st.one_of(
    st.builds(Hostile),
    st.builds(_BadStr, st.text(max_size=5)),
    st.builds(_BadInt, st.integers()),
    st.builds(lambda: {HostileKey(): 1}),
    st.builds(lambda: iter([1])),
    st.builds(lambda: [Hostile(), {"": Hostile()}]),
    st.text(st.characters(codec=None), max_size=5),
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
def test_f21_hostile_values_in_every_call_never_raise(
    traced: Any, backend: Any, value: Any
) -> None:
    """Hostile objects as input/output/metadata/tags/usage/ids/level: placeholders, no raise."""
    client, _ = traced
    before = backend.count(INGEST)
    with client.trace(value, user_id=value, session_id=value, metadata=value, tags=value) as t:
        g = t.generation(value, model=value, input=value, metadata=value)
        g.event(value, input=value, metadata=value, level=value)
        g.end(output=value, usage=value, status_message=value, level=value)
        with t.span("s", input=value, metadata=value) as s:
            s.end(output=value)
        t.event("e", input=value)
    assert client.flush(5)["complete"]
    assert backend.count(INGEST) == before + 1
    body = backend.bodies(INGEST)[-1]
    json.dumps(body, allow_nan=False)
    if isinstance(value, Hostile):
        assert "<Hostile: unrepresentable>" in json.dumps(body)


def test_f24_lone_surrogates_in_names_ids_and_tags_are_replaced(traced: Any, backend: Any) -> None:
    """Names, user/session ids, tags, model and level with a lone surrogate: sent as U+FFFD."""
    client, memory = traced
    odd = "a\ud9bdb"
    with client.trace(odd, user_id=odd, session_id=odd, tags=[odd]) as t:
        t.generation(odd, model=odd).end(level=odd, status_message=odd)
        t.event(odd, level=odd)
    assert client.flush(5)["complete"]
    (sent,) = ingested(backend)
    assert sent["name"] == sent["user_id"] == sent["session_id"] == "a\ufffdb"
    assert sent["tags"] == ["a\ufffdb"]
    names = {o["name"] for o in sent["observations"]}
    assert names == {"a\ufffdb"}
    text = json.dumps(backend.bodies(INGEST), ensure_ascii=False)
    assert "\ud9bd" not in text
    text.encode("utf-8")  # strict: no lone surrogate survived anywhere
    assert all("\ud9bd" not in span.name for span in memory.get_finished_spans())


def test_children_not_ended_travel_with_their_trace(traced: Any, backend: Any) -> None:
    """A generation the user never ended is ended with the trace and sent in the same payload."""
    client, _ = traced
    trace = client.trace("forgetful")
    gen = trace.generation("llm", model="m")
    gen.span("inner")
    trace.end()
    client.flush(5)
    (payload,) = ingested(backend)
    assert sorted(o["name"] for o in payload["observations"]) == ["inner", "llm"]
    assert all("end_time" in o for o in payload["observations"])
    assert "incomplete" not in payload


def test_f36_secrets_in_exception_messages_are_redacted(traced: Any, backend: Any) -> None:
    """An exception quoting a key: the status message keeps the text, not the key."""
    client, memory = traced
    with pytest.raises(PermissionError):
        with client.trace("t") as t:
            with t.span("call"):
                raise PermissionError(f"denied for Bearer {CANARY_KEY}")
    client.flush(5)
    sent = json.dumps(backend.bodies())
    seen = json.dumps([dict(s.attributes) for s in memory.get_finished_spans()])
    assert "PermissionError: denied for Bearer [REDACTED]" in sent
    assert CANARY_KEY not in sent and CANARY_KEY not in seen

"""Against the real local server: trace -> flush -> get_observability_trace returns the tree."""

from __future__ import annotations

import json
import logging
import math
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ashr_labs import observe


@pytest.fixture
def live(local_server: Any, make_client: Any) -> Any:
    return make_client(local_server.url, api_key=local_server.api_key)


def test_trace_round_trips_through_the_local_server(live: Any) -> None:
    """The tree read back has the observations, parents, model, usage, levels and events."""

    @observe(name="plan")
    def plan(goal: str) -> list[str]:
        return [goal, "done"]

    with live.trace("e2e", user_id="u-e2e", session_id="s-e2e", tags=["x"]) as t:
        with t.generation("llm", model="m-1", input=[{"role": "user", "content": "hi"}]) as g:
            g.end(output={"text": "yo"}, usage={"input_tokens": 11, "output_tokens": 7})
        with t.span("tool:lookup", input={"id": 3}) as tool:
            plan("ship")
            tool.event("cache-miss", level="WARNING")
        with pytest.raises(KeyError):
            with t.span("tool:fail"):
                raise KeyError("gone")
    # end(flush=True) after the with block: the server's answer for this trace, not an error.
    assert t.end(flush=True) == {"status": "ok", "trace_id": t.trace_id}
    assert t.end() == {"status": "error", "message": "trace already ended"}
    report = live.flush(5)
    assert report["complete"] and report["failed"] == 0
    stored = live.get_observability_trace(t.trace_id)["trace"]
    assert stored["id"] == t.trace_id and stored["name"] == "e2e"
    assert stored["user_id"] == "u-e2e" and stored["session_id"] == "s-e2e"
    assert stored["tags"] == ["x"]
    by_name = {o["name"]: o for o in stored["observations"]}
    assert set(by_name) == {"llm", "tool:lookup", "plan", "cache-miss", "tool:fail"}
    assert by_name["llm"]["model"] == "m-1"
    assert by_name["llm"]["usage"] == {"input_tokens": 11, "output_tokens": 7}
    assert by_name["plan"]["parent_observation_id"] == by_name["tool:lookup"]["id"]
    assert by_name["plan"]["output"] == ["ship", "done"]
    assert by_name["cache-miss"]["level"] == "WARNING"
    assert by_name["tool:fail"]["level"] == "ERROR"
    assert by_name["tool:fail"]["status_message"] == "KeyError: 'gone'"
    listed = live.list_observability_traces(user_id="u-e2e")
    assert t.trace_id in [x["id"] for x in listed["traces"]]


def test_end_flush_returns_the_server_trace_id(live: Any) -> None:
    """trace.end(flush=True) against the server: status ok and the OTel trace id."""
    trace = live.trace("flushed")
    assert trace.end(flush=True) == {"status": "ok", "trace_id": trace.trace_id}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None), max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=6), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_f24_awkward_values_round_trip_through_the_local_server(live: Any, value: Any) -> None:
    """NaN, infinities, surrogates and big ints are stored and read back as strict JSON."""
    with live.trace("f24") as t:
        t.span("v", input={"value": value}).end()
    live.flush(5)
    stored = live.get_observability_trace(t.trace_id)["trace"]
    (obs,) = stored["observations"]
    text = json.dumps(obs["input"], allow_nan=False)
    if isinstance(value, float) and math.isnan(value):
        assert obs["input"] == {"value": "NaN"}
    assert "\ud800" not in text


def test_f40_tracing_objects_and_logs_never_show_the_key(
    local_server: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs, reprs and errors of tracing never contain the API key or its bearer form."""
    key = local_server.api_key
    caplog.set_level(logging.DEBUG)
    client = make_client(local_server.url, api_key=key)
    with client.trace("f40", metadata={"key": key, "auth": f"Bearer {key}"}) as t:
        t.span("s", input=f"the key is {key}").end()
    client.flush(5)
    bad = make_client(local_server.url, api_key="tp_wrongwrongwrongwrong")
    bad.trace("denied").end(flush=True)
    blobs = [
        caplog.text,
        repr(client),
        repr(t),
        repr(client._tracing.exporter),
        json.dumps(client.get_observability_trace(t.trace_id)),
    ]
    with pytest.raises(TypeError):
        pickle.dumps(client._tracing.exporter._transport)
    for blob in blobs:
        assert key not in blob
        assert "tp_wrongwrongwrongwrong" not in blob


def test_a_span_ending_after_its_trace_joins_it_on_the_server(live: Any) -> None:
    """A late span (e.g. a stream consumed after the trace ended) is sent at once and merged."""
    from opentelemetry import trace as otel_trace

    tracer = live.tracer_provider.get_tracer("ashr_labs.test")
    with live.trace("late-parent", user_id="u-late") as t:
        with t.span("step") as step:
            late = tracer.start_span(
                "late-llm",
                context=otel_trace.set_span_in_context(step.otel_span),
                attributes={"gen_ai.request.model": "m"},
            )
    assert live.flush(5)["complete"]
    late.end()
    report = live.flush(5)
    assert report["complete"] and report["failed"] == 0
    stored = live.get_observability_trace(t.trace_id)["trace"]
    assert stored["name"] == "late-parent" and stored["user_id"] == "u-late"
    assert stored["incomplete"] is False
    by_name = {o["name"]: o for o in stored["observations"]}
    assert by_name["late-llm"]["parent_observation_id"] == by_name["step"]["id"]
    assert by_name["late-llm"]["type"] == "generation"
    assert by_name["step"]["parent_observation_id"] is None


def test_a_child_started_after_its_parent_ended_keeps_its_parent(live: Any) -> None:
    """A span opened under an already-ended span (late callback) still nests under it."""
    from opentelemetry import trace as otel_trace

    tracer = live.tracer_provider.get_tracer("ashr_labs.test")
    with live.trace("late-child") as t:
        step = t.span("step")
        step.end()
        late = tracer.start_span("after", context=otel_trace.set_span_in_context(step.otel_span))
        late.end()
    live.flush(5)
    stored = live.get_observability_trace(t.trace_id)["trace"]
    by_name = {o["name"]: o for o in stored["observations"]}
    assert by_name["after"]["parent_observation_id"] == by_name["step"]["id"]

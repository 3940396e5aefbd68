"""A span ending after its trace was sent goes out as a late partial supplement: that payload
repeats the trace's header as it was sent (name, user, session, tags), and the server keeps the
stored trace as the complete copy made it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace as otel_trace

from tests.observability.conftest import ingested
from tests.support.scripted_backend import ScriptedBackend, Step


@pytest.fixture
def proxy(local_server: Any) -> Iterator[ScriptedBackend]:
    """Records every request body and relays it to the real local server."""
    with ScriptedBackend(default=Step(action="proxy", forward_to=local_server.url)) as backend:
        yield backend


def _send_then_straggle(client: Any, **trace_kwargs: Any) -> str:
    """Send a trace whose ``late-llm`` span (under ``step``) ends only after it was delivered."""
    tracer = client.tracer_provider.get_tracer("ashr_labs.test")
    with client.trace("late-parent", **trace_kwargs) as t:
        with t.span("step") as step:
            late = tracer.start_span(
                "late-llm",
                context=otel_trace.set_span_in_context(step.otel_span),
                attributes={"gen_ai.request.model": "m"},
            )
    report = client.flush(5)
    assert report["complete"] and report["failed"] == 0
    late.end()
    report = client.flush(5)
    assert report["complete"] and report["failed"] == 0
    return str(t.trace_id)


def test_a_late_supplement_carries_the_header_its_trace_was_sent_with(
    local_server: Any, proxy: ScriptedBackend, make_client: Any
) -> None:
    client = make_client(proxy.url, api_key=local_server.api_key)
    trace_id = _send_then_straggle(
        client,
        user_id="u-late",
        session_id="s-late",
        tags=["blue", "green"],
        metadata={"run": 7, "notes": "x" * 1000},
    )
    first, supplement = ingested(proxy)
    assert first["id"] == supplement["id"] == trace_id
    assert "incomplete" not in first
    assert supplement["incomplete"] is True
    assert [o["name"] for o in supplement["observations"]] == ["late-llm"]
    header = {k: supplement[k] for k in ("name", "user_id", "session_id", "tags")}
    assert header == {
        "name": "late-parent",
        "user_id": "u-late",
        "session_id": "s-late",
        "tags": ["blue", "green"],
    }
    # Only the small fields are remembered: the (possibly large) metadata does not ride along.
    assert first["metadata"] == {"run": 7, "notes": "x" * 1000}
    assert supplement["metadata"] is None

    stored = client.get_observability_trace(trace_id)["trace"]
    assert stored["name"] == "late-parent" and stored["user_id"] == "u-late"
    assert stored["session_id"] == "s-late" and stored["tags"] == ["blue", "green"]
    assert stored["metadata"] == {"run": 7, "notes": "x" * 1000}
    assert stored["incomplete"] is False
    assert stored["start_time"] == first["start_time"] and stored["end_time"] == first["end_time"]
    by_name = {o["name"]: o for o in stored["observations"]}
    assert set(by_name) == {"step", "late-llm"}
    assert by_name["late-llm"]["parent_observation_id"] == by_name["step"]["id"]


def test_the_remembered_header_is_bounded_and_never_cuts_a_value(
    local_server: Any, proxy: ScriptedBackend, make_client: Any
) -> None:
    """A user id too long to keep is left out (not cut); tags stop at the cap, whole."""
    client = make_client(proxy.url, api_key=local_server.api_key)
    long_user = "u" * 300
    tags = [f"tag-{i:02d}" for i in range(40)]
    trace_id = _send_then_straggle(client, user_id=long_user, session_id="s-1", tags=tags)
    first, supplement = ingested(proxy)
    assert first["user_id"] == long_user and first["tags"] == tags
    assert supplement["name"] == "late-parent" and supplement["session_id"] == "s-1"
    assert supplement["user_id"] is None
    assert supplement["tags"] == tags[:16]

    stored = client.get_observability_trace(trace_id)["trace"]
    assert stored["user_id"] == long_user and stored["tags"] == tags

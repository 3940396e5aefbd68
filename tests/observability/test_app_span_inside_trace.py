"""The app's own span inside an Ashr trace, with Ashr spans inside it (the README's "its spans
and yours nest both ways"), on the client's own provider.

Our processor never sees the app's span, so the Ashr spans under it have a parent it did not
start. While the Ashr trace around them is open they must hang on that trace: before, the first
of them to end closed the trace, which was sent under that span's name, and the trace's own
name, user and session were lost to a late partial.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from ashr_labs import observe
from tests.observability.conftest import ingested


def test_ashr_spans_under_an_app_span_stay_in_the_open_trace(
    backend: Any, make_client: Any
) -> None:
    client = make_client(backend.url)
    app_tracer = TracerProvider().get_tracer("my.app")

    @observe("lookup")
    def lookup(query: str) -> str:
        return query.upper()

    with client.trace("handle-ticket", user_id="u-1", session_id="s-1") as trace:
        with app_tracer.start_as_current_span("app-db-work"):
            lookup("a")
            trace.span("child").end(output=1)
        trace.span("after").end()
    client.flush(5)

    (payload,) = ingested(backend)
    assert payload["id"] == trace.trace_id
    assert payload["name"] == "handle-ticket"
    assert payload["user_id"] == "u-1" and payload["session_id"] == "s-1"
    assert not payload.get("incomplete")
    by_name = {o["name"]: o for o in payload["observations"]}
    assert set(by_name) == {"lookup", "child", "after"}  # the app's span is not ours to send
    assert all(o.get("parent_observation_id") is None for o in by_name.values())
    assert all(
        not any(k.startswith("ashr.") for k in (o.get("metadata") or {})) for o in by_name.values()
    )


def test_an_ashr_span_under_an_app_span_outside_any_trace_is_still_its_own_trace(
    backend: Any, make_client: Any
) -> None:
    """No open Ashr trace around the app's span: each Ashr span there is a trace of its own."""
    client = make_client(backend.url)
    app_tracer = TracerProvider().get_tracer("my.app")

    @observe("lookup")
    def lookup(query: str) -> str:
        return query

    with app_tracer.start_as_current_span("app-request"):
        lookup("a")
        lookup("b")
    client.flush(5)

    payloads = ingested(backend)
    assert payloads and {p["name"] for p in payloads} == {"lookup"}
    assert sorted(p["input"]["query"] for p in payloads) == ["a", "b"]

"""The exporter reads the standard ``session.id`` / ``enduser.id`` of other tracers' spans.

Zero-code tracing and ``tracer_provider=`` send the application's spans through our exporter;
the same spans sent as OTLP to ``/v1/traces`` get their session and user from these keys, so the
exporter must too, or one program gives two different traces depending on the route.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ashr_labs import AshrSpanExporter
from tests.observability.conftest import CANARY_KEY


def _export(backend: Any, root_attrs: dict[str, Any], child_attrs: dict[str, Any]) -> Any:
    exporter = AshrSpanExporter(CANARY_KEY, backend.url)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handler", attributes=root_attrs):
        with tracer.start_as_current_span("chat m", attributes=child_attrs) as llm:
            llm.set_attribute("gen_ai.request.model", "m")
    provider.shutdown()
    (body,) = backend.bodies("ingest_observability_trace")
    return body["trace"]


def test_session_and_user_come_from_standard_keys_on_any_span(backend: Any) -> None:
    """session.id on the root, enduser.id (an int) on the model call: both reach the header."""
    trace = _export(backend, {"session.id": "sess-7"}, {"enduser.id": 42})
    assert trace["name"] == "handler"
    assert trace["session_id"] == "sess-7"
    assert trace["user_id"] == "42"


def test_ashr_keys_win_over_standard_keys(backend: Any) -> None:
    """Our own trace-wide keys on the root beat a foreign key elsewhere in the tree."""
    trace = _export(
        backend,
        {"ashr.trace.session_id": "ours", "ashr.trace.user_id": "u-ours"},
        {"session.id": "theirs", "enduser.id": "u-theirs"},
    )
    assert trace["session_id"] == "ours" and trace["user_id"] == "u-ours"


def test_no_keys_leave_session_and_user_unset(backend: Any) -> None:
    trace = _export(backend, {}, {})
    assert trace.get("session_id") is None and trace.get("user_id") is None

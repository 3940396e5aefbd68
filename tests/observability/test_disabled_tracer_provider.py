"""``client.tracer_provider`` while tracing is off takes the README's processor line (F20).

The README tells users to send Ashr spans to their own backend with
``client.tracer_provider.add_span_processor(...)``; with tracing disabled by the environment the
same line must run (tracing code never raises into the program), and nothing is recorded.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ashr_labs import AshrLabsClient
from tests.observability.conftest import CANARY_KEY


@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        ({"ASHR_LABS_TRACING_ENABLED": "0"}, {}),
        ({"OTEL_SDK_DISABLED": "true"}, {}),
        ({}, {"enabled": False}),
    ],
)
def test_f20_disabled_client_accepts_span_processors(
    env: dict[str, str],
    kwargs: dict[str, Any],
    backend: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """add_span_processor, force_flush and shutdown work; the processor sees no span."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    memory = InMemorySpanExporter()
    with AshrLabsClient(api_key=CANARY_KEY, base_url=backend.url, **kwargs) as client:
        provider = client.tracer_provider
        assert isinstance(provider, otel_trace.NoOpTracerProvider)
        provider.add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
        with client.trace("t") as trace:
            trace.span("s").end(output=1)
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span("app-span"):
            pass
        assert provider.force_flush() is True  # type: ignore[attr-defined]
        provider.shutdown()  # type: ignore[attr-defined]
        assert client.flush(1)["sent"] == 0
    assert memory.get_finished_spans() == ()
    assert backend.count() == 0

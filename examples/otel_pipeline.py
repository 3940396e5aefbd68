"""Add your own OpenTelemetry processors to the Ashr pipeline.

``client.tracer_provider`` is the provider the client traces into (its own, never installed
globally). Any processor you add there sees every Ashr span, already masked and redacted, so
the same spans can also go to a console, a file or any OTel backend. Trace-wide values (user
and session ids, tags, the trace's name and metadata) ride on the trace's root span only, not on
each child. Here a ``SimpleSpanProcessor`` with an in-memory exporter (swap in
``ConsoleSpanExporter`` or an OTLP exporter) receives the spans while Ashr receives the whole
trace.

    python examples/otel_pipeline.py          # uses a throwaway local server
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ashr_labs import AshrLabsClient
from ashr_labs.server import env_or_local_server


def run(base_url: str, api_key: str) -> dict[str, Any]:
    """Trace one run with a second processor attached; return what each side received."""
    memory = InMemorySpanExporter()
    with AshrLabsClient(
        api_key=api_key,
        base_url=base_url,
        # A mask hook runs before values are set on spans: your processors see masked values.
        mask=lambda value: "<email>" if isinstance(value, str) and "@" in value else value,
    ) as client:
        client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
        with client.trace("pipeline-demo", user_id="user_1") as trace:
            with trace.span("lookup", input="alice@example.com") as span:
                span.end(output={"found": True})
        client.flush(timeout=10)
        stored = client.get_observability_trace(trace.trace_id)["trace"]
    spans = [
        {"name": s.name, "attributes": dict(s.attributes or {})}
        for s in memory.get_finished_spans()
    ]
    return {"otel_spans": spans, "ashr_trace": stored}


def main() -> dict[str, Any]:
    with env_or_local_server() as (base_url, api_key):
        out = run(base_url, api_key)
    for span in out["otel_spans"]:
        print("otel span:", span["name"], span["attributes"].get("ashr.observation.input"))
    print(
        "ashr trace:",
        out["ashr_trace"]["name"],
        [o["name"] for o in out["ashr_trace"]["observations"]],
    )
    return out


if __name__ == "__main__":
    main()

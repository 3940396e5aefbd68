"""Send OpenTelemetry spans to an Ashr server over standard OTLP/HTTP, then read the trace back.

Any OTLP/HTTP exporter works: point it at ``<base url>/v1/traces`` with an
``Authorization: Bearer <key>`` header. Spans with GenAI semantic-convention attributes become
generations (model, token usage, messages); the others become spans; span events become events.

Run against a server you started (``ashr-labs serve`` prints the URL and a key)::

    export ASHR_LABS_BASE_URL=http://127.0.0.1:PORT ASHR_LABS_API_KEY=tp_...
    python examples/otlp_to_local_server.py

or with neither variable set, to start a throwaway local server in-process.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ashr_labs import AshrLabsClient
from ashr_labs.server import env_or_local_server


def traced_agent(provider: TracerProvider) -> str:
    """A small agent run: a root span, one LLM call (GenAI attributes) and one tool call."""
    tracer = provider.get_tracer("my-agent")
    with tracer.start_as_current_span(
        "answer-question", attributes={"enduser.id": "user_42"}
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.input.messages": json.dumps([{"role": "user", "content": "2 + 2?"}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "4"}]),
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool calculator",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "calculator"},
        ) as tool:
            tool.add_event("result", {"value": 4})
        return format(root.get_span_context().trace_id, "032x")


def run(base_url: str, api_key: str) -> dict[str, Any]:
    """Export one traced run to ``base_url`` and return the trace as the server stores it."""
    provider = TracerProvider(resource=Resource.create({"service.name": "otlp-example"}))
    exporter = OTLPSpanExporter(
        endpoint=base_url.rstrip("/") + "/v1/traces",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace_id = traced_agent(provider)
    provider.force_flush(timeout_millis=10_000)
    provider.shutdown()

    with AshrLabsClient(api_key=api_key, base_url=base_url) as client:
        trace: dict[str, Any] = client.get_observability_trace(trace_id)["trace"]
    return trace


def main() -> None:
    with env_or_local_server() as (base_url, api_key):
        trace = run(base_url, api_key)
    print(f"trace {trace['id']} ({trace['name']}), {trace['latency_ms']} ms")
    for obs in trace["observations"]:
        detail = (
            f" model={obs['model']} usage={obs['usage']}" if obs["type"] == "generation" else ""
        )
        print(f"  {obs['type']:<10} {obs['name']}{detail}")


if __name__ == "__main__":
    main()

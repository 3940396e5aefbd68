"""``examples/otlp_to_local_server.py`` runs as documented against the local server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from tests.support.server_rpc import new_tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "otlp_to_local_server.py"


def test_the_otlp_example_exports_and_reads_its_trace_back(local_server: Any) -> None:
    """The stock exporter with a BatchSpanProcessor: root, generation, tool span and event."""
    spec = importlib.util.spec_from_file_location("otlp_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    tenant = new_tenant(local_server)

    trace = example.run(tenant.url, tenant.key)

    assert (trace["name"], trace["user_id"]) == ("answer-question", "user_42")
    assert [(o["type"], o["name"]) for o in trace["observations"]] == [
        ("span", "answer-question"),
        ("generation", "chat gpt-4o-mini"),
        ("span", "execute_tool calculator"),
        ("event", "result"),
    ]
    generation = trace["observations"][1]
    assert generation["usage"] == {"input_tokens": 42, "output_tokens": 7}
    assert generation["input"] == [{"role": "user", "content": "2 + 2?"}]
    assert generation["output"] == [{"role": "assistant", "content": "4"}]
    overview = tenant.ok("get_observability_analytics", days=7)["overview"]
    assert overview["total_tool_calls"] == 1  # recognised by gen_ai.tool.name

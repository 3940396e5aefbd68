"""The PUBLISHED ashr-labs 0.2.1 client traces into our server and reads its traces back.

It runs in a subprocess (``tests/support/published_client.py``) because it has the same import
name as ours.
"""

from __future__ import annotations

from typing import Any

from tests.support.published_client import run_published
from tests.support.server_rpc import new_tenant

SCRIPT = r"""
import json, sys
from ashr_labs import AshrLabsClient

client = AshrLabsClient(api_key=sys.argv[1], base_url=sys.argv[2])
with client.trace("handle-ticket", user_id="user_42", session_id="conv_abc",
                  metadata={"tier": "gold"}, tags=["prod"]) as trace:
    with trace.generation("classify", model="claude-sonnet-4-6",
                          input=[{"role": "user", "content": "help"}]) as gen:
        gen.end(output={"intent": "reset"}, usage={"input_tokens": 50, "output_tokens": 12})
        with gen.span("tool:search", input={"q": "reset"}) as nested:
            nested.end(output={"hits": 2})
    try:
        with trace.span("tool:reset_password", input={"user_id": "user_42"}):
            raise PermissionError("denied")
    except PermissionError:
        pass
    trace.event("guardrail-check", input={"passed": True})
first = trace.trace_id
try:
    with client.trace("crashing") as crashed:
        crashed.span("step").end()
        raise RuntimeError("agent fell over")
except RuntimeError:
    pass
again = trace.end(output={"resolution": "done"})   # ending twice sends the trace twice
out = {
    "trace_id": first,
    "second_id": again.get("trace_id"),
    "got": client.get_observability_trace(first),
    "listed": client.list_observability_traces(user_id="user_42"),
    "analytics": client.get_observability_analytics(days=7),
    "crashed": client.get_observability_trace(crashed.trace_id),
    "errors": client.get_observability_errors(),
    "tool_errors": client.get_observability_tool_errors(),
}
print(json.dumps(out))
"""


def test_published_client_trace_ingests_and_reads_back(local_server: Any) -> None:
    """``Trace`` of 0.2.1 → our ingest → its own query methods see every observation."""
    tenant = new_tenant(local_server)
    out = run_published(SCRIPT, tenant.key, tenant.url)

    assert out["trace_id"] and len(out["trace_id"]) == 32
    trace = out["got"]["trace"]
    assert (trace["name"], trace["user_id"], trace["session_id"], trace["tags"]) == (
        "handle-ticket",
        "user_42",
        "conv_abc",
        ["prod"],
    )
    assert trace["metadata"] == {"tier": "gold"}
    names = [o["name"] for o in trace["observations"]]
    assert names == ["classify", "tool:search", "tool:reset_password", "guardrail-check"]
    classify, nested, failed, event = trace["observations"]
    assert (classify["type"], classify["model"], classify["usage"], classify["output"]) == (
        "generation",
        "claude-sonnet-4-6",
        {"input_tokens": 50, "output_tokens": 12},
        {"intent": "reset"},
    )
    assert nested["parent_observation_id"] == classify["id"]
    assert (failed["level"], failed["status_message"]) == ("ERROR", "PermissionError: denied")
    assert (event["type"], event["input"]) == ("event", {"passed": True})

    # The published client sends no trace id, so its second end() is a second trace (F10 row:
    # "a payload without a client trace id is stored as sent").
    assert out["second_id"] not in (None, out["trace_id"])
    assert out["listed"]["total"] == 2
    overview = out["analytics"]["overview"]
    assert (overview["total_traces"], overview["total_input_tokens"]) == (3, 100)
    assert (overview["total_tool_calls"], overview["error_rate"]) == (4, 1.0)
    assert out["tool_errors"]["total"] == 2
    # A trace whose ``with`` block raised is flushed with output {"error": ...}: an error trace.
    crashed = out["crashed"]["trace"]
    assert crashed["output"] == {"error": "RuntimeError: agent fell over"}
    assert crashed["has_error"] is True
    assert out["errors"]["total"] == 3
    assert out["errors"]["traces"][0]["name"] == "crashing"  # newest first

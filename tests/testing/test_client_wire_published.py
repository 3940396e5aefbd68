"""Differential wire test: for the same method calls, our client sends the same request bodies as
the published 0.2.1 client (protocol.md §2.2), apart from the documented extra
``idempotency_key`` on create calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ashr_labs import AshrLabsClient
from tests.support.published_client import published_client_path, run_published
from tests.support.scripted_backend import Received, ScriptedBackend, Step

KEY = "tp_wire_published_2c9d"

CONFIG = {
    "agent": {
        "name": "Support Bot",
        "description": "Handles orders",
        "tools": [{"name": "lookup_order", "parameters": {"type": "object"}}],
        "accepted_inputs": {"text": True, "audio": False},
    },
    "context": {"domain": "e-commerce"},
    "generation_options": {"generate_audio": False, "scenario_count": 2},
}

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("health_check", {}),
    ("get_notes", {}),
    ("get_notes", {"agent_id": 4}),
    ("get_dataset", {"dataset_id": 2}),
    ("get_dataset", {"dataset_id": 2, "include_signed_urls": True, "url_expires_seconds": 60}),
    ("list_datasets", {}),
    ("list_datasets", {"limit": 5, "cursor": 9, "include_signed_urls": True}),
    ("create_run", {"dataset_id": 2, "result": {"tests": [], "status": "completed"}}),
    ("create_run", {"dataset_id": 2, "result": {}, "tenant_id": 8, "runner_id": 1}),
    ("get_run", {"run_id": 3}),
    ("list_runs", {}),
    ("list_runs", {"dataset_id": 2, "limit": 7}),
    ("delete_run", {"run_id": 3}),
    ("create_request", {"request_name": "Eval", "request": CONFIG}),
    (
        "create_request",
        {
            "request_name": "Eval",
            "request": CONFIG,
            "request_input_schema": {"type": "object"},
            "requestor_id": 5,
        },
    ),
    ("get_request", {"request_id": 5}),
    ("list_requests", {}),
    ("list_requests", {"status": "pending", "limit": 3, "cursor": 1}),
    ("list_api_keys", {}),
    ("list_api_keys", {"include_inactive": True}),
    ("revoke_api_key", {"api_key_id": 6}),
    ("list_agents", {}),
    ("create_agent", {"name": "bot"}),
    ("create_agent", {"name": "bot", "description": "d", "config": {"grading_config": {}}}),
    ("update_agent", {"agent_id": 4, "config": {"x": 1}}),
    ("delete_agent", {"agent_id": 4}),
    ("get_agent_datasets", {"agent_id": 4, "include_signed_urls": True}),
    ("set_dataset_agent", {"dataset_id": 2, "agent_id": None}),
    ("set_dataset_agent", {"dataset_id": 2, "agent_id": 4}),
    ("list_observability_traces", {}),
    ("list_observability_traces", {"user_id": "u", "session_id": "s", "limit": 9, "page": 3}),
    ("get_observability_trace", {"trace_id": "abc"}),
    ("get_observability_analytics", {"days": 3}),
    ("get_observability_errors", {}),
    ("get_observability_tool_errors", {"days": 2, "limit": 4, "page": 2}),
    ("wait_for_request", {"request_id": 5, "timeout": 5, "poll_interval": 0}),
    ("poll_run", {"run_id": 3, "timeout": 5, "poll_interval": 0}),
    ("generate_dataset", {"request_name": "Gen", "config": CONFIG, "poll_interval": 0}),
]

REPLIES: dict[str, dict[str, Any]] = {
    "init": {"user": {"id": 7}, "tenant": {"id": 3}, "notes": []},
    "get_sdk_notes": {"notes": []},
    "get_dataset": {"dataset": {"id": 2, "dataset_source": {"runs": {}}}},
    "list_datasets": {"datasets": [{"id": 2, "request_id": 5}], "next_cursor": None},
    "create_run": {"run": {"id": 3}},
    "get_run": {"run": {"id": 3, "result": {"aggregate_metrics": {"tests_passed": 1}}}},
    "create_request": {"request": {"id": 5}},
    "get_request": {"request": {"id": 5, "request_status": "completed"}},
    "list_api_keys": {"api_keys": []},
    "list_agents": {"agents": []},
    "create_agent": {"agent": {"id": 4}},
    "update_agent": {"agent": {"id": 4}},
}

PUBLISHED_DRIVER = """
import json, sys
from ashr_labs import AshrLabsClient
client = AshrLabsClient(api_key=sys.argv[1], base_url=sys.argv[2])
for name, kwargs in json.loads(sys.argv[3]):
    getattr(client, name)(**kwargs)
print(json.dumps("done"))
"""


def respond(received: Received) -> Step:
    return Step(body={"status": "ok", **REPLIES.get(received.function or "", {})})


def bodies(backend: ScriptedBackend) -> list[dict[str, Any]]:
    out = []
    for body in backend.bodies():
        body = dict(body)
        body.pop("idempotency_key", None)
        out.append(body)
    return out


def test_same_calls_same_bodies_as_published_client() -> None:
    """Each call's body (keys, values, always/if-set rules, lazy init) matches 0.2.1's."""
    published_client_path()  # skips the test when the published package is unavailable
    with ScriptedBackend(respond) as theirs:
        run_published(PUBLISHED_DRIVER, KEY, theirs.url, json.dumps(CALLS))
        expected = bodies(theirs)
    with ScriptedBackend(respond) as ours:
        with AshrLabsClient(KEY, ours.url) as client:
            for name, kwargs in CALLS:
                getattr(client, name)(**kwargs)
        got = bodies(ours)
        keyed = [b["function"] for b in ours.bodies() if "idempotency_key" in b]
    assert len(expected) > len(CALLS)  # the lazy init and the waits add requests
    assert [b["function"] for b in got] == [b["function"] for b in expected]
    for index, (mine, published) in enumerate(zip(got, expected, strict=True)):
        assert mine == published, f"request #{index} ({published['function']}) differs"
    assert set(keyed) == {"create_run", "create_request", "create_agent"}


@pytest.mark.parametrize("name", sorted({n for n, _ in CALLS}))
def test_every_published_method_is_covered(name: str) -> None:
    """Each method in the differential list exists on our client."""
    assert callable(getattr(AshrLabsClient, name))

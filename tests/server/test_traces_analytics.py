"""Analytics, errors and tool errors over known traces: every number is computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ashr_labs.server import _analytics
from tests.support.server_rpc import Tenant, new_tenant
from tests.support.traces import published_trace, span

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def at(hours_ago: float, plus_ms: int = 0) -> str:
    moment = NOW - timedelta(hours=hours_ago) + timedelta(milliseconds=plus_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def known(local_server: Any) -> tuple[Tenant, dict[str, str]]:
    """Four traces in a fresh tenant: three in the last 7 days, one 30 days old."""
    tenant = new_tenant(local_server)

    def gen(name: str, model: str, h: float, start: int, end: int, usage: Any) -> dict[str, Any]:
        return span(
            name, kind="generation", model=model, usage=usage, start=at(h, start), end=at(h, end)
        )

    t1 = published_trace(
        "t1",
        [
            gen("plan", "gpt-4o", 3, 0, 1000, {"input_tokens": 100, "output_tokens": 20}),
            span("tool:search", start=at(3, 1000), end=at(3, 1500)),
            span("final", start=at(3, 1500), end=at(3, 2000)),
        ],
        user_id="u1",
        session_id="s1",
    )
    t2 = published_trace(
        "t2",
        [
            gen("plan", "gpt-4o", 2, 0, 500, {"input_tokens": 50, "output_tokens": 10}),
            span(
                "tool:search",
                start=at(2, 500),
                end=at(2, 1000),
                level="ERROR",
                status_message="TimeoutError: slow",
            ),
            gen("answer", "claude", 2, 1000, 1250, {"prompt_tokens": 7, "completion_tokens": 3}),
        ],
        user_id="u2",
        session_id="s1",
    )
    t3 = published_trace(
        "t3",
        [
            span("lookup-step", metadata={"tool_name": "lookup"}, start=at(1, 0), end=at(1, 200)),
            span("guardrail", kind="event", level="ERROR", start=at(1, 100)),
        ],
        user_id="u1",
    )
    old = published_trace(
        "old",
        [
            gen("plan", "gpt-4o", 24 * 30, 0, 4000, {"input_tokens": 1, "output_tokens": 1}),
            span("tool:search", level="ERROR", start=at(24 * 30, 4000), end=at(24 * 30, 5000)),
        ],
        user_id="u3",
        session_id="s9",
    )
    ids = {}
    for body in (t1, t2, t3, old):
        ids[body["name"]] = tenant.ok("ingest_observability_trace", trace=body)["trace_id"]
    return tenant, ids


def test_overview_numbers_over_the_last_7_days(known: tuple[Tenant, dict[str, str]]) -> None:
    """Every overview field the reference names, from the three recent traces."""
    tenant, _ = known
    result = tenant.ok("get_observability_analytics", days=7)
    assert result["overview"] == {
        "total_traces": 3,
        "avg_latency_ms": 1150.0,  # (2000 + 1250 + 200) / 3
        "p95_latency_ms": 2000.0,  # nearest rank: ceil(0.95 * 3) = 3rd smallest
        "total_input_tokens": 157,
        "total_output_tokens": 33,
        "error_rate": 0.6667,  # t2 (failed tool) and t3 (ERROR event)
        "error_count": 2,
        "total_tool_calls": 3,  # search, search, lookup
        "unique_users": 2,
        "unique_sessions": 1,
    }


def test_tool_performance_and_model_usage(known: tuple[Tenant, dict[str, str]]) -> None:
    """Per tool: calls, errors, error rate, latency; per model: calls, tokens, latency."""
    tenant, _ = known
    result = tenant.ok("get_observability_analytics", days=7)
    assert result["tool_performance"] == [
        {
            "tool_name": "search",
            "calls": 2,
            "errors": 1,
            "error_rate": 0.5,
            "avg_latency_ms": 500.0,
            "p95_latency_ms": 500.0,
        },
        {
            "tool_name": "lookup",
            "calls": 1,
            "errors": 0,
            "error_rate": 0.0,
            "avg_latency_ms": 200.0,
            "p95_latency_ms": 200.0,
        },
    ]
    assert result["model_usage"] == [
        {
            "model": "gpt-4o",
            "calls": 2,
            "input_tokens": 150,
            "output_tokens": 30,
            "total_tokens": 180,
            "avg_latency_ms": 750.0,
            "errors": 0,
        },
        {
            "model": "claude",
            "calls": 1,
            "input_tokens": 7,
            "output_tokens": 3,
            "total_tokens": 10,
            "avg_latency_ms": 250.0,
            "errors": 0,
        },
    ]


def test_a_wider_window_takes_the_old_trace_in(known: tuple[Tenant, dict[str, str]]) -> None:
    """``days`` sets the window: 60 days includes the 30-day-old trace."""
    tenant, _ = known
    overview = tenant.ok("get_observability_analytics", days=60)["overview"]
    assert overview["total_traces"] == 4
    assert overview["p95_latency_ms"] == 5000.0
    assert overview["unique_sessions"] == 2
    assert tenant.ok("get_observability_tool_errors", days=60)["total"] == 2


def test_errors_and_tool_errors_newest_first(known: tuple[Tenant, dict[str, str]]) -> None:
    """Error traces in the window, most recent first, paged; tool errors only failed tools."""
    tenant, ids = known
    errors = tenant.ok("get_observability_errors", days=7, limit=50, page=1)
    assert ([t["id"] for t in errors["traces"]], errors["total"]) == ([ids["t3"], ids["t2"]], 2)
    second = tenant.ok("get_observability_errors", days=7, limit=1, page=2)
    assert ([t["id"] for t in second["traces"]], second["total"]) == ([ids["t2"]], 2)
    tools = tenant.ok("get_observability_tool_errors", days=7, limit=50, page=1)
    assert ([t["id"] for t in tools["traces"]], tools["total"]) == ([ids["t2"]], 1)
    assert errors["traces"][1]["has_error"] is True


def test_an_empty_tenant_has_zeroes_not_errors(local_server: Any) -> None:
    """No traces: counts are 0, averages and p95 null, lists empty."""
    result = new_tenant(local_server).ok("get_observability_analytics", days=7)
    assert result["overview"]["total_traces"] == 0
    assert result["overview"]["avg_latency_ms"] is None
    assert result["overview"]["error_rate"] == 0.0
    assert result["tool_performance"] == [] and result["model_usage"] == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([5.0], 5.0),
        ([1.0, 2.0], 2.0),
        ([float(i) for i in range(1, 21)], 19.0),
        ([float(i) for i in range(1, 101)], 95.0),
        ([float(i) for i in range(1, 102)], 96.0),
    ],
)
def test_p95_is_the_nearest_rank(values: list[float], expected: float | None) -> None:
    """p95 = the ceil(0.95 n)-th smallest value."""
    assert _analytics.percentile(values, 0.95) == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 3, "output_tokens": 4}, (3, 4)),
        ({"prompt_tokens": 2}, (2, 0)),
        ({"input": 5, "output": 6}, (5, 6)),
        ({"input_tokens": True}, (0, 0)),
        ({"input_tokens": -1, "output_tokens": "7"}, (0, 0)),
        (None, (0, 0)),
        ([1], (0, 0)),
    ],
)
def test_usage_tokens_rules(usage: Any, expected: tuple[int, int]) -> None:
    """Only non-negative integers under the documented keys count as tokens."""
    assert _analytics.usage_tokens(usage) == expected


@pytest.mark.parametrize(
    ("name", "metadata", "expected"),
    [
        ("tool:search", None, "search"),
        ("tool:", None, None),
        ("search", None, None),
        ("x", {"gen_ai.tool.name": "calc"}, "calc"),
        ("x", {"tool_name": "t"}, "t"),
        ("x", {"tool_name": 3}, None),
    ],
)
def test_tool_recognition(name: str, metadata: Any, expected: str | None) -> None:
    """Tools are ``tool:<name>`` spans or carry ``gen_ai.tool.name``/``tool_name`` metadata."""
    assert _analytics.tool_name_of(name, metadata) == expected

"""The observability RPCs on the real local server over loopback: ingest, read, list, errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from ashr_labs.server._rpc import FORBIDDEN_MESSAGE
from tests.support import hypothesis_profile  # noqa: F401 - loads the "ci" profile
from tests.support.server_rpc import Tenant, new_tenant
from tests.support.traces import published_trace, span, trace_id

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("list_observability_traces", {"limit": 50, "page": 1}),
    ("get_observability_trace", {"trace_id": "0" * 31 + "1"}),
    ("get_observability_analytics", {"days": 7}),
    ("get_observability_errors", {"days": 7, "limit": 50, "page": 1}),
    ("get_observability_tool_errors", {"days": 7, "limit": 50, "page": 1}),
]


@pytest.fixture
def tenant(local_server: Any) -> Tenant:
    return new_tenant(local_server)


def test_ingest_published_shape_gets_a_server_id_and_reads_back(tenant: Tenant) -> None:
    """The published client's body (no id) is stored as sent and read back with every key."""
    gen = span(
        "classify",
        kind="generation",
        input=[{"role": "user", "content": "help"}],
        model="claude-sonnet-4-6",
        output={"intent": "reset"},
        usage={"input_tokens": 50, "output_tokens": 12},
    )
    tool = span(
        "tool:search",
        parent=gen["id"],
        input={"q": "x"},
        output=[1, 2],
        level="ERROR",
        status_message="ValueError: boom",
    )
    event = span("guardrail", kind="event", input={"passed": True}, level="WARNING")
    open_span = span("never-ended", end=None)
    body = published_trace(
        "handle",
        [gen, tool, event, open_span],
        user_id="u1",
        session_id="s1",
        metadata={"k": "v"},
        tags=["a", "b"],
        output={"resolution": "done"},
    )
    answer = tenant.ok("ingest_observability_trace", trace=body)
    assert re.fullmatch(r"[0-9a-f]{32}", answer["trace_id"])

    trace = tenant.ok("get_observability_trace", trace_id=answer["trace_id"])["trace"]
    assert {
        k: trace[k] for k in ("id", "name", "user_id", "session_id", "metadata", "tags", "output")
    } == {
        "id": answer["trace_id"],
        "name": "handle",
        "user_id": "u1",
        "session_id": "s1",
        "metadata": {"k": "v"},
        "tags": ["a", "b"],
        "output": {"resolution": "done"},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", trace["created_at"])
    assert [o["id"] for o in trace["observations"]] == [
        gen["id"],
        tool["id"],
        event["id"],
        open_span["id"],
    ]
    keys = {
        "id",
        "name",
        "type",
        "parent_observation_id",
        "input",
        "output",
        "metadata",
        "model",
        "usage",
        "level",
        "status_message",
        "start_time",
        "end_time",
    }
    first, second, third, fourth = trace["observations"]
    assert keys <= set(first)
    assert first == {
        **first,
        "type": "generation",
        "model": "claude-sonnet-4-6",
        "usage": {"input_tokens": 50, "output_tokens": 12},
        "output": {"intent": "reset"},
        "parent_observation_id": None,
        "input": [{"role": "user", "content": "help"}],
        "start_time": "2026-01-01T00:00:00.000000Z",
        "end_time": "2026-01-01T00:00:01.000000Z",
    }
    assert (second["parent_observation_id"], second["level"], second["status_message"]) == (
        gen["id"],
        "ERROR",
        "ValueError: boom",
    )
    assert (third["type"], third["level"], third["end_time"]) == ("event", "WARNING", None)
    assert fourth["end_time"] is None
    assert trace["observation_count"] == 4 and trace["has_error"] is True
    assert trace["total_tokens"] == 62 and trace["tool_calls"] == 1


def test_ingest_our_shape_keeps_the_client_trace_id(tenant: Tenant) -> None:
    """Our exporter's extra keys (OTel id, times, input, partial marks) are optional and kept."""
    tid = trace_id().upper()
    body = published_trace(
        "ours",
        [span("step")],
        id=tid,
        input={"q": 1},
        start_time="2026-01-01T00:00:00Z",
        end_time="2026-01-01T00:00:03Z",
        incomplete=True,
        dropped_spans=2,
    )
    assert tenant.ok("ingest_observability_trace", trace=body)["trace_id"] == tid.lower()
    trace = tenant.ok("get_observability_trace", trace_id=tid)["trace"]  # any hex case finds it
    assert trace["id"] == tid.lower() and trace["input"] == {"q": 1}
    assert (trace["start_time"], trace["end_time"]) == (
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:03.000000Z",
    )
    assert trace["latency_ms"] == 3000.0
    assert (trace["incomplete"], trace["dropped_spans"]) == (True, 2)


def test_f10_a_retried_ingest_leaves_one_trace_without_duplicates(tenant: Tenant) -> None:
    """The same trace sent twice (a retry after a lost reply): one trace, each observation once."""
    tid = trace_id()
    body = published_trace("retry", [span("a"), span("b", kind="generation")], id=tid)
    for _ in range(2):
        assert tenant.ok("ingest_observability_trace", trace=body)["trace_id"] == tid
    listed = tenant.ok("list_observability_traces", limit=50, page=1)
    assert listed["total"] == 1
    trace = tenant.ok("get_observability_trace", trace_id=tid)["trace"]
    assert sorted(o["name"] for o in trace["observations"]) == ["a", "b"]


def test_f10_a_partial_send_then_the_complete_one_merge(tenant: Tenant) -> None:
    """A partial (abandoned) send, the full trace, then a late partial retry: one full trace."""
    tid = trace_id()
    first = span("slow", end=None)
    partial = published_trace("guessed", [first], id=tid, incomplete=True, user_id="u-partial")
    ended = {**first, "end_time": "2026-01-01T00:00:05.000000Z", "output": {"ok": True}}
    complete = published_trace(
        "p", [ended, span("later")], id=tid, incomplete=False, output={"done": 1}, user_id="u"
    )
    tenant.ok("ingest_observability_trace", trace=partial)
    tenant.ok("ingest_observability_trace", trace=complete)
    tenant.ok("ingest_observability_trace", trace=partial)
    trace = tenant.ok("get_observability_trace", trace_id=tid)["trace"]
    assert trace["incomplete"] is False and trace["output"] == {"done": 1}
    assert (trace["name"], trace["user_id"]) == ("p", "u")  # the late partial filled no gap
    by_name = {o["name"]: o for o in trace["observations"]}
    assert list(by_name) == ["slow", "later"]
    assert by_name["slow"]["end_time"] == "2026-01-01T00:00:05.000000Z"
    assert by_name["slow"]["output"] == {"ok": True}


def test_f10_concurrent_sends_of_one_trace_merge_into_one(tenant: Tenant) -> None:
    """Eight threads send pieces (and repeats) of one trace at once: one trace, each
    observation exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    tid = trace_id()
    pieces = [[span(f"s{i}-{j}") for j in range(5)] for i in range(4)]
    bodies = [published_trace("c", piece, id=tid) for piece in pieces for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda b: tenant.call("ingest_observability_trace", trace=b), bodies)
        )
    assert all(answer.status == 200 for answer in answers), answers
    trace = tenant.ok("get_observability_trace", trace_id=tid)["trace"]
    names = [o["name"] for o in trace["observations"]]
    assert sorted(names) == sorted(f"s{i}-{j}" for i in range(4) for j in range(5))
    assert trace["observation_count"] == 20
    assert tenant.ok("list_observability_traces")["total"] == 1


def test_f44_a_trace_id_reused_by_another_tenant_stays_separate(local_server: Any) -> None:
    """Two tenants sending one trace id get two traces; a third tenant gets the fixed 403."""
    a, b, c = (new_tenant(local_server) for _ in range(3))
    tid = trace_id()
    a.ok("ingest_observability_trace", trace=published_trace("from-a", [span("x")], id=tid))
    b.ok(
        "ingest_observability_trace",
        trace=published_trace("from-b", [span("y"), span("z")], id=tid),
    )
    trace_a = a.ok("get_observability_trace", trace_id=tid)["trace"]
    trace_b = b.ok("get_observability_trace", trace_id=tid)["trace"]
    assert (trace_a["name"], len(trace_a["observations"])) == ("from-a", 1)
    assert (trace_b["name"], len(trace_b["observations"])) == ("from-b", 2)
    assert [t["name"] for t in a.ok("list_observability_traces")["traces"]] == ["from-a"]
    assert c.error(403, "get_observability_trace", trace_id=tid) == FORBIDDEN_MESSAGE
    assert c.ok("list_observability_traces")["total"] == 0
    assert "not found" in c.error(404, "get_observability_trace", trace_id=trace_id())


def test_f44_a_foreign_body_tenant_id_is_403_and_changes_nothing(local_server: Any) -> None:
    """A body ``tenant_id`` naming another tenant gets the fixed 403 on every observability
    call; the key's own id, null or absent work."""
    a, b = new_tenant(local_server), new_tenant(local_server)
    body = published_trace("t", [span("a")])
    for function, params in [*QUERIES, ("ingest_observability_trace", {"trace": body})]:
        message = a.error(403, function, tenant_id=b.tenant_id, **params)
        assert message == FORBIDDEN_MESSAGE
    assert b.ok("list_observability_traces")["total"] == 0
    a.ok("ingest_observability_trace", trace=body, tenant_id=a.tenant_id)
    a.ok("ingest_observability_trace", trace=body, tenant_id=None)
    assert a.ok("list_observability_traces", tenant_id=a.tenant_id)["total"] == 2


@pytest.mark.parametrize(
    ("trace", "message"),
    [
        (None, "trace: expected an object, got nothing"),
        ([1], "trace: expected an object, got [1]"),
        (
            {
                "name": "t",
                "observations": [span("a"), span("b"), span("c"), {**span("d"), "type": "x"}],
            },
            'trace.observations[3].type: expected one of event, generation, span, got "x"',
        ),
        (
            {"name": "t", "observations": {"a": 1}},
            'trace.observations: expected an array of observation objects, got {"a": 1}',
        ),
        (
            {"name": "t", "observations": [{"type": "span"}]},
            "trace.observations[0].id: expected a non-empty string of at most 128 characters, "
            "got nothing",
        ),
        ({"name": "t", "observations": [7]}, "trace.observations[0]: expected an object, got 7"),
        (
            {"name": "t", "id": "xyz"},
            'trace.id: expected 32 hexadecimal characters, not all zero, got "xyz"',
        ),
        ({"name": "t", "id": "0" * 32}, "trace.id: expected 32 hexadecimal characters"),
        ({"name": 5}, "trace.name: expected a string, got 5"),
        ({"name": "t", "tags": "a"}, 'trace.tags: expected an array of strings, got "a"'),
        ({"name": "t", "tags": ["a", 1]}, "trace.tags[1]: expected a string"),
        ({"name": "t", "metadata": [1]}, "trace.metadata: expected an object or null, got [1]"),
        ({"name": "t", "incomplete": "yes"}, 'trace.incomplete: expected a boolean, got "yes"'),
        ({"name": "t", "dropped_spans": -1}, "trace.dropped_spans: expected an integer 0–"),
        (
            {"name": "t", "observations": [{**span("a"), "usage": 3}]},
            "trace.observations[0].usage: expected an object or null, got 3",
        ),
        (
            {"name": "t", "observations": [{**span("a"), "start_time": 17}]},
            "trace.observations[0].start_time: expected a string, got 17",
        ),
    ],
)
def test_ingest_rejects_bad_shapes_with_422_naming_the_field(
    tenant: Tenant, trace: Any, message: str
) -> None:
    """Bad trace bodies get a 422 whose message names the field path; nothing is stored."""
    params = {} if trace is None else {"trace": trace}
    assert tenant.error(422, "ingest_observability_trace", **params).startswith(message)
    assert tenant.ok("list_observability_traces")["total"] == 0


def test_timestamps_are_normalised_when_parseable_and_kept_otherwise(tenant: Tenant) -> None:
    """Offsets become UTC with six fraction digits; unparseable text is stored as given."""
    obs = [
        span("a", start="2026-01-01T01:00:00.5+01:00", end="2026-01-01T00:00:01"),
        span("b", start="yesterday", end=None),
    ]
    tid = tenant.ok("ingest_observability_trace", trace=published_trace("t", obs))["trace_id"]
    got = tenant.ok("get_observability_trace", trace_id=tid)["trace"]["observations"]
    assert (got[0]["start_time"], got[0]["end_time"]) == (
        "2026-01-01T00:00:00.500000Z",
        "2026-01-01T00:00:01.000000Z",
    )
    assert got[1]["start_time"] == "yesterday"


def test_list_filters_pages_newest_first_and_matches_literally(tenant: Tenant) -> None:
    """user/session filters match exact values (F48); pages of ``limit`` newest first; totals."""
    for hour in range(5):
        obs = [span("s", start=f"2026-02-01T0{hour}:00:00Z", end=f"2026-02-01T0{hour}:00:01Z")]
        tenant.ok(
            "ingest_observability_trace",
            trace=published_trace(
                f"t{hour}",
                obs,
                user_id="u-even" if hour % 2 == 0 else "u-odd",
                session_id=f"s{hour // 2}",
            ),
        )
    listed = tenant.ok("list_observability_traces", limit=2, page=1)
    assert ([t["name"] for t in listed["traces"]], listed["total"]) == (["t4", "t3"], 5)
    assert [
        t["name"] for t in tenant.ok("list_observability_traces", limit=2, page=3)["traces"]
    ] == ["t0"]
    evens = tenant.ok("list_observability_traces", user_id="u-even")
    assert ([t["name"] for t in evens["traces"]], evens["total"]) == (["t4", "t2", "t0"], 3)
    assert tenant.ok("list_observability_traces", session_id="s1")["total"] == 2
    assert tenant.ok("list_observability_traces", user_id="u-even", session_id="s1")["total"] == 1
    for hostile in ("' OR 1=1--", "%", "u-%", "_-even"):
        assert tenant.ok("list_observability_traces", user_id=hostile)["total"] == 0
    summary = listed["traces"][0]
    assert {
        "id",
        "name",
        "user_id",
        "session_id",
        "metadata",
        "tags",
        "created_at",
        "output",
        "latency_ms",
        "observation_count",
        "has_error",
        "total_tokens",
    } <= set(summary)
    assert "observations" not in summary


@pytest.mark.parametrize("limit", [0, 101, True, "5", 2**70, 1.5])
def test_list_limit_outside_1_to_100_is_422(tenant: Tenant, limit: Any) -> None:
    """``limit`` must be an integer 1–100 (the seed's maximum), else 422 naming it."""
    assert tenant.error(422, "list_observability_traces", limit=limit).startswith("limit: ")


@pytest.mark.parametrize("params", [{"page": 0}, {"days": 0}, {"days": "7"}])
def test_paging_and_days_are_validated(tenant: Tenant, params: dict[str, Any]) -> None:
    """``page`` and ``days`` start at 1; bad values are 422 naming the parameter."""
    name = next(iter(params))
    fn = "list_observability_traces" if name == "page" else "get_observability_errors"
    assert tenant.error(422, fn, **params).startswith(f"{name}: ")


def test_every_observability_call_is_403_while_the_feature_is_off(local_server: Any) -> None:
    """With the tenant flag off, queries and ingest answer 403; turning it on restores them."""
    tenant = new_tenant(local_server, observability=False)
    calls = [*QUERIES, ("ingest_observability_trace", {"trace": published_trace("t", [span("a")])})]
    for function, params in calls:
        assert "observability" in tenant.error(403, function, **params)
    local_server.set_feature(tenant.tenant_id, "observability", True)
    tenant.ok("ingest_observability_trace", trace=published_trace("t", [span("a")]))
    assert tenant.ok("list_observability_traces")["total"] == 1
    local_server.set_feature(tenant.tenant_id, "observability", False)
    tenant.error(403, "list_observability_traces")


def test_f24_hostile_values_round_trip_as_strict_json(tenant: Tenant) -> None:
    """NaN/Infinity tokens become null, lone surrogates U+FFFD, huge ints survive (F24, F49)."""
    raw = (
        '{"function": "ingest_observability_trace", "trace": {"name": "h\\ud800", '
        '"observations": [{"id": "o1", "type": "span", "name": "n", '
        '"input": {"nan": NaN, "inf": -Infinity, "s": "\\udc00x", "big": '
        + str(2**70)
        + '}, "metadata": {"deep": [[[1]]]}}]}}'
    )
    response = requests.post(
        tenant.url,
        data=raw.encode(),
        timeout=10,
        headers={"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    tid = response.json()["trace_id"]
    reply = requests.post(
        tenant.url,
        timeout=10,
        headers={"Authorization": f"Bearer {tenant.key}"},
        data=json.dumps({"function": "get_observability_trace", "trace_id": tid}),
    )
    trace = json.loads(reply.text, parse_constant=lambda token: pytest.fail(f"token {token}"))
    trace = trace["trace"]
    assert trace["name"] == "h\ufffd"
    assert trace["observations"][0]["input"] == {
        "nan": None,
        "inf": None,
        "s": "\ufffdx",
        "big": 2**70,
    }
    assert trace["observations"][0]["metadata"] == {"deep": [[[1]]]}


def test_errors_list_only_traces_with_an_error(tenant: Tenant) -> None:
    """``get_observability_errors`` returns traces with an ERROR observation; tool errors only
    failed tools; both newest first with totals."""
    now_ish = "2099-01-01T00:00:00Z"  # far future: inside any window that ends now or later
    fine = published_trace("fine", [span("a", start=now_ish, end=None)])
    broken = published_trace("broken", [span("a", level="ERROR", start=now_ish, end=None)])
    tool = published_trace("tool", [span("tool:x", level="ERROR", start=now_ish, end=None)])
    for body in (fine, broken, tool):
        tenant.ok("ingest_observability_trace", trace=body)
    errors = tenant.ok("get_observability_errors", days=7, limit=50, page=1)
    assert (sorted(t["name"] for t in errors["traces"]), errors["total"]) == (["broken", "tool"], 2)
    tool_errors = tenant.ok("get_observability_tool_errors", days=7, limit=50, page=1)
    assert ([t["name"] for t in tool_errors["traces"]], tool_errors["total"]) == (["tool"], 1)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _expected(value: Any) -> Any:
    """What the protocol says comes back: NaN/±inf as null, lone surrogates as U+FFFD."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_expected(k): _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(v) for v in value]
    return value


_text = st.text(st.characters(codec=None), max_size=12)
_json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def shared_tenant(local_server: Any) -> Tenant:
    return new_tenant(local_server)


@given(value=_json_like, name=_text)
def test_f24_any_json_like_value_round_trips_through_ingest(
    shared_tenant: Tenant, value: Any, name: str
) -> None:
    """Hypothesis values (surrogates, NaN, huge ints) sent the published client's way (NaN
    tokens, ASCII escapes) read back as strict JSON with the documented replacements."""
    body = published_trace(name, [span("v", input=value, metadata={"v": value})], output=value)
    tid = shared_tenant.ok("ingest_observability_trace", trace=body)["trace_id"]
    reply = requests.post(
        shared_tenant.url,
        data=json.dumps({"function": "get_observability_trace", "trace_id": tid}),
        headers={"Authorization": f"Bearer {shared_tenant.key}"},
        timeout=10,
    )
    trace = json.loads(reply.text, parse_constant=lambda token: pytest.fail(token))["trace"]
    wire = json.loads(json.dumps(value))  # escaped surrogate pairs join up on the server too
    assert trace["name"] == _expected(json.loads(json.dumps(name)))
    assert trace["observations"][0]["input"] == _expected(wire)
    assert trace["observations"][0]["metadata"] == {"v": _expected(wire)}
    assert trace["output"] == _expected(wire)

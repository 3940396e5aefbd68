"""Every core RPC of the local server over loopback: shapes (protocol.md §4.2), errors, paging."""

from __future__ import annotations

from typing import Any

import pytest

from ashr_labs.server._rpc import FORBIDDEN_MESSAGE
from tests.support.configs import run_result
from tests.support.server_rpc import Tenant, new_tenant, table_counts

RUN_KEYS = {"id", "created_at", "dataset", "tenant", "runner", "result", "grading_status"}
DATASET_KEYS = {
    "id",
    "created_at",
    "tenant",
    "creator",
    "name",
    "description",
    "agent_id",
    "agent_details",
    "dataset_source",
    "request_id",
}
AGENT_KEYS = {
    "id",
    "created_at",
    "tenant_id",
    "creator_id",
    "name",
    "description",
    "config",
    "is_active",
    "dataset_count",
}
REQUEST_KEYS = {
    "id",
    "created_at",
    "requestor_id",
    "requestor_tenant",
    "request_name",
    "request_status",
    "request_input_schema",
    "request",
    "error",
}
KEY_KEYS = {
    "id",
    "key_prefix",
    "name",
    "scopes",
    "user_id",
    "tenant_id",
    "created_at",
    "last_used_at",
    "expires_at",
    "is_active",
}
NOTE_KEYS = {
    "id",
    "created_at",
    "updated_at",
    "title",
    "content",
    "category",
    "severity",
    "tenant_id",
    "agent_id",
    "active_from",
    "expires_at",
    "is_archived",
    "note_metadata",
}


@pytest.fixture
def t(local_server: Any) -> Tenant:
    return new_tenant(local_server)


@pytest.fixture
def other(local_server: Any) -> Tenant:
    return new_tenant(local_server)


def request_config(**test_config: Any) -> dict[str, Any]:
    return {
        "metadata": {"dataset_name": "Support Eval"},
        "agent": {"name": "Bot", "description": "helps", "accepted_inputs": {"text": True}},
        "context": {"domain": "e-commerce", "use_case": "orders"},
        "generation_options": {"generate_audio": False},
        "test_config": test_config or {"num_variations": 2},
    }


# -- session ---------------------------------------------------------------------------------------
def test_init_returns_user_tenant_and_notes(t: Tenant, other: Tenant, local_server: Any) -> None:
    """init answers both objects with protocol keys and only notes the tenant may see."""
    glob = local_server.add_note("global", "for all")
    mine = local_server.add_note("mine", "for t", tenant_id=t.tenant_id, category="warning")
    local_server.add_note("theirs", "for other", tenant_id=other.tenant_id)
    local_server.add_note("old", "archived", tenant_id=t.tenant_id, is_archived=True)
    local_server.add_note(
        "gone", "expired", tenant_id=t.tenant_id, expires_at="2000-01-01T00:00:00Z"
    )
    local_server.add_note(
        "later", "future", tenant_id=t.tenant_id, active_from="2999-01-01T00:00:00Z"
    )
    body = t.ok("init")
    assert set(body["user"]) == {"id", "created_at", "email", "name", "tenant", "is_active"}
    assert set(body["tenant"]) == {"id", "created_at", "tenant_name", "is_active"}
    assert body["tenant"]["id"] == t.tenant_id and body["user"]["tenant"] == t.tenant_id
    ids = {n["id"] for n in body["notes"]}
    assert {glob, mine} <= ids
    assert all(n["tenant_id"] in (None, t.tenant_id) for n in body["notes"])
    assert {"old", "gone", "later", "theirs"}.isdisjoint({n["title"] for n in body["notes"]})
    assert set(body["notes"][0]) == NOTE_KEYS


def test_keep_alive(t: Tenant) -> None:
    """keep_alive answers status ok."""
    assert t.ok("keep_alive")["status"] == "ok"


def test_get_sdk_notes_with_agent(t: Tenant, other: Tenant, local_server: Any) -> None:
    """Agent notes come only with that agent's id; foreign agents get 403, unknown 404."""
    agent = t.ok("create_agent", name="noted")["agent"]
    local_server.add_note("agent-note", "x", agent_id=agent["id"])
    assert "agent-note" not in {n["title"] for n in t.ok("get_sdk_notes")["notes"]}
    titles = {n["title"] for n in t.ok("get_sdk_notes", agent_id=agent["id"])["notes"]}
    assert "agent-note" in titles
    assert other.error(403, "get_sdk_notes", agent_id=agent["id"]) == FORBIDDEN_MESSAGE
    assert "not found" in t.error(404, "get_sdk_notes", agent_id=10**9)


# -- datasets --------------------------------------------------------------------------------------
def test_get_dataset_shape_and_access(t: Tenant, other: Tenant) -> None:
    """get_dataset returns every Dataset key; other tenants get the fixed 403; unknown ids 404."""
    ds = t.add_dataset("one", request_id=None)
    body = t.ok("get_dataset", dataset_id=ds, include_signed_urls=True, url_expires_seconds=60)
    assert set(body["dataset"]) == DATASET_KEYS
    assert body["dataset"]["tenant"] == t.tenant_id and body["dataset"]["request_id"] is None
    assert other.error(403, "get_dataset", dataset_id=ds) == FORBIDDEN_MESSAGE
    assert t.error(404, "get_dataset", dataset_id=ds + 10**6) == f"dataset {ds + 10**6} not found"
    msg = t.error(422, "get_dataset", dataset_id=ds, url_expires_seconds=-1)
    assert msg.startswith("url_expires_seconds: expected an integer")


def test_list_datasets_newest_first_with_cursor(t: Tenant, other: Tenant) -> None:
    """Lists run newest first, carry request_id, and page by the last id seen."""
    ids = [t.add_dataset(f"d{i}") for i in range(5)]
    other.add_dataset("foreign")
    page1 = t.ok(
        "list_datasets",
        tenant_id=t.tenant_id,
        limit=2,
        include_signed_urls=False,
        url_expires_seconds=3600,
    )
    assert [d["id"] for d in page1["datasets"]] == ids[::-1][:2]
    assert all("request_id" in d for d in page1["datasets"])
    assert page1["next_cursor"] == ids[3]
    page2 = t.ok("list_datasets", limit=2, cursor=page1["next_cursor"])
    assert [d["id"] for d in page2["datasets"]] == [ids[2], ids[1]]
    page3 = t.ok("list_datasets", limit=2, cursor=page2["next_cursor"])
    assert [d["id"] for d in page3["datasets"]] == [ids[0]]
    assert page3["next_cursor"] is None
    assert t.ok("list_datasets", tenant_id=None)["datasets"][0]["id"] == ids[-1]
    assert t.error(403, "list_datasets", tenant_id=other.tenant_id) == FORBIDDEN_MESSAGE


# -- runs ------------------------------------------------------------------------------------------
def test_create_run_blanks_tests_passed_and_marks_pending(t: Tenant) -> None:
    """create_run stores the run with tests_passed null and grading_status pending (§3.3)."""
    ds = t.add_dataset()
    run = t.ok("create_run", tenant_id=t.tenant_id, dataset_id=ds, result=run_result())["run"]
    assert RUN_KEYS <= set(run)
    assert run["grading_status"] == "pending"
    assert run["result"]["aggregate_metrics"]["tests_passed"] is None
    assert run["result"]["aggregate_metrics"]["total_tests"] == 1
    assert run["dataset"] == ds and run["tenant"] == t.tenant_id and run["runner"] == t.user_id
    got = t.ok("get_run", run_id=run["id"])["run"]
    assert got["id"] == run["id"]
    assert [test["test_id"] for test in got["result"]["tests"]] == ["s1"]  # grading may add keys


def test_create_run_accepts_null_dataset_and_rejects_bad_result(
    t: Tenant, local_server: Any
) -> None:
    """run_and_deploy may send dataset_id null; a non-object result is a 422 that stores nothing."""
    assert t.ok("create_run", dataset_id=None, result=run_result())["run"]["dataset"] is None
    before = table_counts(local_server)
    assert t.error(422, "create_run", dataset_id=None, result=None) == (
        "result: expected an object, got null"
    )
    assert t.error(422, "create_run", result=run_result()).startswith("dataset_id: expected")
    assert table_counts(local_server) == before


def test_run_access_list_and_delete(t: Tenant, other: Tenant) -> None:
    """Runs list newest first (filterable by dataset); delete removes; foreign ids get 403."""
    ds1, ds2 = t.add_dataset(), t.add_dataset()
    r1 = t.ok("create_run", dataset_id=ds1, result=run_result())["run"]["id"]
    r2 = t.ok("create_run", dataset_id=ds2, result=run_result())["run"]["id"]
    r3 = t.ok("create_run", dataset_id=ds1, result=run_result())["run"]["id"]
    assert [r["id"] for r in t.ok("list_runs", limit=50)["runs"]][:3] == [r3, r2, r1]
    assert [r["id"] for r in t.ok("list_runs", dataset_id=ds1)["runs"]] == [r3, r1]
    assert t.ok("list_runs", limit=1)["runs"][0]["id"] == r3
    for fn, params in [
        ("get_run", {"run_id": r1}),
        ("delete_run", {"run_id": r1}),
        ("list_runs", {"dataset_id": ds1}),
        ("create_run", {"dataset_id": ds1, "result": run_result()}),
    ]:
        assert other.error(403, fn, **params) == FORBIDDEN_MESSAGE
    assert other.ok("list_runs")["runs"] == []
    assert t.ok("delete_run", run_id=r1)["status"] == "ok"
    assert t.error(404, "get_run", run_id=r1) == f"run {r1} not found"
    assert t.error(404, "delete_run", run_id=r1) == f"run {r1} not found"


def test_create_run_idempotency_key_replays_first_answer(t: Tenant, local_server: Any) -> None:
    """A repeated idempotency_key returns the first run; other keys and no key create anew (F37)."""
    ds = t.add_dataset()
    first = t.ok("create_run", dataset_id=ds, result=run_result(), idempotency_key="k-1")
    again = t.ok("create_run", dataset_id=ds, result=run_result(), idempotency_key="k-1")
    assert again == first
    assert (
        t.ok("create_run", dataset_id=ds, result=run_result(), idempotency_key="k-2")["run"]["id"]
        != first["run"]["id"]
    )
    a = t.ok("create_run", dataset_id=ds, result=run_result())["run"]["id"]
    b = t.ok("create_run", dataset_id=ds, result=run_result())["run"]["id"]
    assert a != b
    assert len(t.ok("list_runs", dataset_id=ds)["runs"]) == 4
    agent1 = t.ok("create_agent", name="idem", idempotency_key="a")["agent"]
    assert t.ok("create_agent", name="idem", idempotency_key="a")["agent"] == agent1
    assert t.error(422, "create_agent", name="x", idempotency_key="k" * 201).startswith(
        "idempotency_key: expected at most 200"
    )


# -- requests --------------------------------------------------------------------------------------
def test_create_and_get_request(t: Tenant, other: Tenant) -> None:
    """create_request stores the request (shape §4.2) with the default schema; access is scoped."""
    req = t.ok(
        "create_request",
        tenant_id=t.tenant_id,
        requestor_id=t.user_id,
        request_name="Eval",
        request=request_config(),
        request_input_schema=None,
    )["request"]
    assert REQUEST_KEYS <= set(req)
    assert req["request_status"] in ("pending", "processing", "completed", "failed")
    assert req["request_input_schema"] == {"type": "object", "properties": {}}
    assert req["requestor_id"] == t.user_id and req["requestor_tenant"] == t.tenant_id
    got = t.ok("get_request", request_id=req["id"])["request"]
    assert got["request"] == request_config() and got["request_name"] == "Eval"
    assert other.error(403, "get_request", request_id=req["id"]) == FORBIDDEN_MESSAGE
    assert (
        other.error(
            403,
            "create_request",
            requestor_id=t.user_id,
            request_name="x",
            request=request_config(),
        )
        == FORBIDDEN_MESSAGE
    )


@pytest.mark.parametrize(
    ("test_config", "message"),
    [
        (
            {"num_variations": 51},
            "request.test_config.num_variations: expected an integer 1–50, got 51",
        ),
        (
            {"num_variations": 0},
            "request.test_config.num_variations: expected an integer 1–50, got 0",
        ),
        (
            {"num_variations": True},
            "request.test_config.num_variations: expected an integer 1–50, got true",
        ),
        (
            {"strategy": "random"},
            "request.test_config.strategy: expected one of focused, diverse, balanced,"
            ' got "random"',
        ),
        (
            {"coverage": {"happy_path": True, "everything": True}},
            "request.test_config.coverage: expected keys from",
        ),
        (
            {"coverage": {"edge_cases": "yes"}},
            "request.test_config.coverage.edge_cases: expected a boolean",
        ),
        (
            {"complexity_distribution": {"simple": 0.5, "moderate": 0.1}},
            "request.test_config.complexity_distribution:"
            " expected values summing to about 1.0, got 0.6",
        ),
        (
            {"complexity_distribution": {"hard": 1.0}},
            "request.test_config.complexity_distribution: expected keys from",
        ),
        (
            {"focus_areas": ["a", 1]},
            "request.test_config.focus_areas: expected an array of strings",
        ),
        ({"exclude": "x"}, "request.test_config.exclude: expected an array of strings"),
    ],
)
def test_create_request_validates_ranges(
    t: Tenant, local_server: Any, test_config: dict[str, Any], message: str
) -> None:
    """Ranges the client does not check are a 422 naming the field; nothing is stored (§3.4)."""
    before = table_counts(local_server)
    got = t.error(422, "create_request", request_name="x", request=request_config(**test_config))
    assert got.startswith(message)
    assert table_counts(local_server) == before


def test_list_requests_status_filter_and_cursor(t: Tenant, local_server: Any) -> None:
    """list_requests filters by exact status, refuses unknown statuses, and pages newest first."""
    ids = [
        t.ok("create_request", request_name=f"r{i}", request={"3d": {}})["request"]["id"]
        for i in range(3)
    ]
    local_server.wait_idle(10)
    page = t.ok("list_requests", tenant_id=t.tenant_id, limit=2)
    assert [r["id"] for r in page["requests"]] == [ids[2], ids[1]]
    assert page["next_cursor"] == ids[1]
    rest = t.ok("list_requests", limit=2, cursor=page["next_cursor"])
    assert [r["id"] for r in rest["requests"]] == [ids[0]] and rest["next_cursor"] is None
    statuses = {r["request_status"] for r in t.ok("list_requests")["requests"]}
    for status in statuses:
        listed = t.ok("list_requests", status=status)["requests"]
        assert listed and all(r["request_status"] == status for r in listed)
    assert t.error(422, "list_requests", status="' OR 1=1--").startswith(
        "status: expected one of completed, failed, pending, processing"
    )


# -- agents ----------------------------------------------------------------------------------------
def test_agent_lifecycle(t: Tenant, other: Tenant) -> None:
    """Create, 409 on a duplicate name, update, link datasets, count, soft delete unlinks."""
    cfg = {"grading_config": {"text_similarity_threshold": 0.4}}
    agent = t.ok("create_agent", name="Support", description="d", config=cfg)["agent"]
    assert set(agent) == AGENT_KEYS and agent["config"] == cfg and agent["dataset_count"] == 0
    assert "already exists" in t.error(409, "create_agent", name="Support")
    assert other.ok("create_agent", name="Support")["agent"]["tenant_id"] == other.tenant_id
    second = t.ok("create_agent", name="Other")["agent"]
    assert t.error(409, "update_agent", agent_id=second["id"], name="Support")
    upd = t.ok("update_agent", agent_id=agent["id"], config={"form_data": {}})["agent"]
    assert upd["config"] == {"form_data": {}} and upd["description"] == "d"
    ds = t.add_dataset("linked")
    linked = t.ok("set_dataset_agent", dataset_id=ds, agent_id=agent["id"])
    assert linked["dataset"]["agent_details"] == {"id": agent["id"], "name": "Support"}
    listed = {a["id"]: a for a in t.ok("list_agents")["agents"]}
    assert listed[agent["id"]]["dataset_count"] == 1
    body = t.ok("get_agent_datasets", agent_id=agent["id"], include_signed_urls=True, extra=1)
    assert body["agent"]["id"] == agent["id"] and [d["id"] for d in body["datasets"]] == [ds]
    assert t.ok("set_dataset_agent", dataset_id=ds, agent_id=None)["dataset"]["agent_id"] is None
    t.ok("set_dataset_agent", dataset_id=ds, agent_id=agent["id"])
    assert t.ok("delete_agent", agent_id=agent["id"])["status"] == "ok"
    assert t.ok("get_dataset", dataset_id=ds)["dataset"]["agent_id"] is None
    assert agent["id"] not in {a["id"] for a in t.ok("list_agents")["agents"]}
    assert (
        t.error(404, "get_agent_datasets", agent_id=agent["id"]) == f"agent {agent['id']} not found"
    )
    assert t.ok("create_agent", name="Support")["agent"]["id"] != agent["id"]
    for fn, params in [
        ("update_agent", {"agent_id": second["id"], "name": "z"}),
        ("delete_agent", {"agent_id": second["id"]}),
        ("get_agent_datasets", {"agent_id": second["id"]}),
        ("set_dataset_agent", {"dataset_id": ds, "agent_id": None}),
    ]:
        assert other.error(403, fn, **params) == FORBIDDEN_MESSAGE
    other_agent = other.ok("list_agents")["agents"][0]["id"]
    assert (
        t.error(403, "set_dataset_agent", dataset_id=ds, agent_id=other_agent) == FORBIDDEN_MESSAGE
    )
    assert t.error(422, "set_dataset_agent", dataset_id=ds).startswith("agent_id: expected")


# -- API keys --------------------------------------------------------------------------------------
def test_api_keys_list_and_revoke(t: Tenant, other: Tenant, local_server: Any) -> None:
    """Lists show prefixes only; revocation answers 401 on the very next request."""
    extra = local_server.create_api_key(t.tenant_id, name="ci")
    keys = t.ok("list_api_keys", include_inactive=False)["api_keys"]
    assert all(set(k) == KEY_KEYS for k in keys)
    assert all(k["tenant_id"] == t.tenant_id for k in keys)
    assert extra not in repr(keys) and t.key not in repr(keys)
    ci = next(k for k in keys if k["name"] == "ci")
    assert extra.startswith(ci["key_prefix"])
    assert other.error(403, "revoke_api_key", api_key_id=ci["id"]) == FORBIDDEN_MESSAGE
    revoked = t.ok("revoke_api_key", api_key_id=ci["id"])
    assert revoked["api_key"]["is_active"] is False
    ci_tenant = Tenant(t.url, extra, t.tenant_id, local_server)
    assert ci_tenant.call("keep_alive").status == 401
    assert ci["id"] not in {k["id"] for k in t.ok("list_api_keys")["api_keys"]}
    assert ci["id"] in {k["id"] for k in t.ok("list_api_keys", include_inactive=True)["api_keys"]}

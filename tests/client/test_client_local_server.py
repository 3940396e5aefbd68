"""Every client method against the real local server over loopback, the real server's error
statuses as typed exceptions, and F37's "forward then close" on create_run (one run, one id)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ashr_labs import (
    AshrLabsClient,
    AshrLabsError,
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    RunBuilder,
    ValidationError,
)
from tests.support.scripted_backend import ScriptedBackend, Step

GENERATION_CONFIG: dict[str, Any] = {
    "agent": {
        "name": "Support Bot",
        "description": "Handles customer orders, inventory, and refunds",
        "system_prompt": "You are a helpful support agent for ShopWave.",
        "tools": [
            {
                "name": "lookup_order",
                "description": "Look up order status",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                },
            },
        ],
        "accepted_inputs": {"text": True, "audio": False, "file": False},
    },
    "context": {
        "domain": "e-commerce",
        "use_case": "Customer support for online retail orders",
        "user_persona": {"type": "customer", "description": "Online shoppers"},
    },
    "test_config": {"num_variations": 3, "strategy": "diverse"},
    "generation_options": {"generate_audio": False, "generate_files": False},
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def dataset(local_server: Any) -> tuple[int, dict[str, Any]]:
    """One generated dataset shared by this module's tests (generate_dataset end to end)."""
    with AshrLabsClient(local_server.api_key, local_server.url) as c:
        return c.generate_dataset(
            "H4 client eval", GENERATION_CONFIG, timeout=60, poll_interval=0.1
        )


@pytest.fixture
def other_tenant_client(local_server: Any) -> Iterator[AshrLabsClient]:
    """A client on a second tenant of the same server."""
    from ashr_labs.server import _admin

    tenant_id, _user = _admin.create_tenant(local_server.db, unique("tenant-b"))
    _kid, key = _admin.create_api_key(local_server.db, tenant_id, name="b")
    with AshrLabsClient(key, local_server.url) as c:
        yield c


def test_session_notes_and_health(client: AshrLabsClient) -> None:
    """notes is [] before any call; init returns user and tenant and fills the cache."""
    assert client.notes == []
    session = client.init()
    assert session["status"] == "ok"
    assert isinstance(session["user"]["id"], int) and isinstance(session["tenant"]["id"], int)
    assert isinstance(client.notes, list)
    assert isinstance(client.get_notes(), list)
    assert client.health_check()["status"] == "ok"


def test_generate_dataset_returns_the_source(
    client: AshrLabsClient, dataset: tuple[int, dict[str, Any]]
) -> None:
    """generate_dataset's dataset can be fetched and listed with its request id."""
    dataset_id, source = dataset
    assert isinstance(source.get("runs"), dict) and source["runs"]
    fetched = client.get_dataset(dataset_id, include_signed_urls=True, url_expires_seconds=60)
    assert fetched["id"] == dataset_id
    assert fetched["dataset_source"] == source
    listed = client.list_datasets(limit=100)
    assert listed["status"] == "ok"
    item = next(d for d in listed["datasets"] if d["id"] == dataset_id)
    assert isinstance(item["request_id"], int)


def test_list_datasets_pages_with_cursor(
    client: AshrLabsClient, dataset: tuple[int, dict[str, Any]]
) -> None:
    """A cursor page holds items after the cursor."""
    first = client.list_datasets(limit=1)
    assert len(first["datasets"]) == 1
    if first["next_cursor"] is not None:
        second = client.list_datasets(limit=1, cursor=first["next_cursor"])
        assert all(d["id"] != first["datasets"][0]["id"] for d in second["datasets"])


def test_requests_with_the_reference_example(client: AshrLabsClient) -> None:
    """create_request accepts the API reference example; get/list/wait see it."""
    request = client.create_request(
        request_name=unique("Support Agent Eval"),
        request={**GENERATION_CONFIG, "expected_behaviors": {"must_include": ["order"]}},
    )
    assert isinstance(request["id"], int)
    assert client.get_request(request["id"])["id"] == request["id"]
    done = client.wait_for_request(request["id"], timeout=60, poll_interval=0.1)
    assert done["request_status"] == "completed"
    listed = client.list_requests(status="completed", limit=100)
    assert request["id"] in [r["id"] for r in listed["requests"]]
    assert all(r["request_status"] == "completed" for r in listed["requests"])


def test_runs_create_get_list_poll_delete(
    client: AshrLabsClient, dataset: tuple[int, dict[str, Any]]
) -> None:
    """A built run is created pending, graded (poll_run), listed, then deleted."""
    dataset_id, source = dataset
    builder = RunBuilder()
    builder.start()
    for scenario_id in source["runs"]:
        test = builder.add_test(scenario_id)
        test.start()
        test.add_user_text(text="hi", description="ask")
        test.complete()
    builder.complete()
    run = client.create_run(dataset_id, builder.build())
    assert run["grading_status"] == "pending"
    assert run["result"]["aggregate_metrics"]["tests_passed"] is None
    assert client.get_run(run["id"])["id"] == run["id"]
    assert run["id"] in [r["id"] for r in client.list_runs(dataset_id=dataset_id)["runs"]]
    polls: list[int] = []
    graded = client.poll_run(
        run["id"], timeout=60, poll_interval=0.1, on_poll=lambda e, r: polls.append(e)
    )
    assert graded["result"]["aggregate_metrics"]["tests_passed"] is not None
    assert client.delete_run(run["id"])["status"] == "ok"
    with pytest.raises(NotFoundError):
        client.get_run(run["id"])


def test_agents_lifecycle(client: AshrLabsClient, dataset: tuple[int, dict[str, Any]]) -> None:
    """Agents: create, list with dataset_count, update, link a dataset, unlink, delete."""
    dataset_id, _ = dataset
    name = unique("Support Bot")
    config = {"grading_config": {"tool_strictness": {"lookup_order": "required"}}}
    agent = client.create_agent(name, description="Healthcare scheduling agent", config=config)
    assert (agent["name"], agent["config"]) == (name, config)
    listed = {a["id"]: a for a in client.list_agents()}
    assert listed[agent["id"]]["dataset_count"] == 0
    updated = client.update_agent(agent["id"], description="new")
    assert updated["description"] == "new" and updated["name"] == name
    client.set_dataset_agent(dataset_id, agent["id"])
    linked = client.get_agent_datasets(agent["id"])
    assert [d["id"] for d in linked["datasets"]] == [dataset_id]
    assert linked["agent"]["id"] == agent["id"]
    client.set_dataset_agent(dataset_id, None)
    assert client.get_agent_datasets(agent["id"])["datasets"] == []
    with pytest.raises(AshrLabsError) as info:
        client.create_agent(name)
    assert info.value.status_code == 409
    client.delete_agent(agent["id"])
    assert agent["id"] not in [a["id"] for a in client.list_agents()]


def test_api_keys_list_prefix_only_and_revoke_is_effective(local_server: Any) -> None:
    """list_api_keys shows prefixes only; revoking a key makes its next call a 401."""
    from ashr_labs.server import _admin

    tenant_id, _ = _admin.create_tenant(local_server.db, unique("tenant-keys"))
    _kid, key = _admin.create_api_key(local_server.db, tenant_id, name="doomed")
    with AshrLabsClient(key, local_server.url) as c:
        keys = c.list_api_keys()
        assert keys and all("key" not in k and key not in str(k) for k in keys)
        (mine,) = [k for k in keys if key.startswith(k["key_prefix"])]
        assert c.list_api_keys(include_inactive=True)
        c.revoke_api_key(mine["id"])
        with pytest.raises(AuthenticationError) as info:
            c.list_api_keys()
        assert info.value.status_code == 401
        with pytest.raises(AuthenticationError):
            c.revoke_api_key(mine["id"])


def test_observability_queries(client: AshrLabsClient) -> None:
    """The five query methods answer with the documented shapes."""
    traces = client.list_observability_traces(limit=10, page=1, user_id="nobody")
    assert traces["traces"] == [] and traces["total"] == 0
    assert client.get_observability_errors(days=1)["status"] == "ok"
    assert "traces" in client.get_observability_tool_errors(days=1, limit=5, page=1)
    analytics = client.get_observability_analytics(days=7)
    assert "total_traces" in analytics["overview"]
    with pytest.raises(NotFoundError):
        client.get_observability_trace("0" * 32)


@pytest.mark.parametrize(
    ("call", "cls", "status"),
    [
        (lambda c: c.get_run(2**40), NotFoundError, 404),
        (lambda c: c.revoke_api_key(2**40), NotFoundError, 404),
        (lambda c: c.list_observability_traces(limit=500), ValidationError, 422),
        (lambda c: c.get_agent_datasets(1, include_signed_urls="yes"), ValidationError, 422),
        (lambda c: c._transport.call("no_such_function"), AshrLabsError, 400),
    ],
)
def test_real_server_statuses_map_to_exceptions(
    client: AshrLabsClient, call: Any, cls: type[AshrLabsError], status: int
) -> None:
    """The local server's error statuses arrive as the documented classes with messages."""
    with pytest.raises(cls) as info:
        call(client)
    assert info.value.status_code == status
    assert info.value.message
    assert isinstance(info.value.response, dict)


def test_unknown_key_is_authentication_error(local_server: Any) -> None:
    """A key the server does not know gives AuthenticationError (401)."""
    with AshrLabsClient("tp_" + "x" * 40, local_server.url) as c:
        with pytest.raises(AuthenticationError) as info:
            c.init()
    assert info.value.status_code == 401


def test_cross_tenant_access_is_authorization_error(
    client: AshrLabsClient,
    other_tenant_client: AshrLabsClient,
    dataset: tuple[int, dict[str, Any]],
) -> None:
    """Another tenant's dataset is a 403 AuthorizationError."""
    with pytest.raises(AuthorizationError) as info:
        other_tenant_client.get_dataset(dataset[0])
    assert info.value.status_code == 403


def test_f37_forward_then_close_creates_one_run(local_server: Any) -> None:
    """The first create_run reaches the server but its reply is lost; the retry returns the
    same run and the server holds exactly one."""
    with ScriptedBackend(default=Step(action="proxy", forward_to=local_server.url)) as proxy:
        proxy.on("create_run", Step(action="forward", forward_to=local_server.url))
        with AshrLabsClient(local_server.api_key, proxy.url) as c:
            before = {r["id"] for r in c.list_runs(limit=100)["runs"]}
            run = c.create_run(None, {"tests": [], "status": "completed"})  # type: ignore[arg-type]
            after = {r["id"] for r in c.list_runs(limit=100)["runs"]}
        bodies = proxy.bodies("create_run")
    assert len(bodies) == 2
    assert bodies[0]["idempotency_key"] == bodies[1]["idempotency_key"]
    assert after - before == {run["id"]}


def test_notes_arrive_through_the_lazy_session_and_get_notes(local_server: Any) -> None:
    """Tenant notes fill client.notes on the first tenant-scoped call; agent notes need agent_id."""
    from ashr_labs.server import _admin

    tenant_id, _ = _admin.create_tenant(local_server.db, unique("tenant-notes"))
    _kid, key = _admin.create_api_key(local_server.db, tenant_id, name="notes")
    title = unique("Breaking")
    _admin.add_note(
        local_server.db, title, "v2 grading", category="breaking_change", tenant_id=tenant_id
    )
    with AshrLabsClient(key, local_server.url) as c:
        assert c.notes == []
        c.list_runs()  # the lazy session fetches the notes with the ids
        assert title in [n["title"] for n in c.notes]
        agent = c.create_agent(unique("noted"))
        agent_title = unique("For the agent")
        _admin.add_note(
            local_server.db, agent_title, "x", tenant_id=tenant_id, agent_id=agent["id"]
        )
        assert agent_title not in [n["title"] for n in c.get_notes()]
        notes = c.get_notes(agent_id=agent["id"])
        assert agent_title in [n["title"] for n in notes]
        assert c.notes == notes


def test_from_env_against_the_server(local_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env with both variables set talks to that server."""
    monkeypatch.setenv("ASHR_LABS_API_KEY", local_server.api_key)
    monkeypatch.setenv("ASHR_LABS_BASE_URL", local_server.url)
    with AshrLabsClient.from_env() as c:
        assert c.init()["status"] == "ok"

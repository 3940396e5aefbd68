"""The API reference's code examples, run as printed against the real local server.

Each test is one section of the reference, in its order. Ids the reference makes up (42, 99, 123,
322) are replaced by ids the server created; ``poll_interval`` is shortened where an example
leaves it at its default (5 s / 20 s), since the local server finishes in milliseconds. Every
exception the reference documents gets an assertion here, against the real server where the
server can produce it: a second server with its job workers off keeps requests pending and runs
ungraded, for the ``TimeoutError`` cases.

Already run elsewhere, so not repeated here: the comparator examples
(``tests/unit/test_matching_tables.py``), the builders' ``build()``/``set_vm_stream``/
``set_kernel_vm`` examples (``tests/testing/test_builders.py``), the ``handle_env`` example
(``tests/testing/test_runner_semantics.py``), and the client against a scripted backend
(``tests/client/test_client_scripted.py``).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ashr_labs import (
    Agent,
    AshrLabsClient,
    AshrLabsError,
    AuthenticationError,
    AuthorizationError,
    EvalRunner,
    NotFoundError,
    RunBuilder,
)
from tests.support.configs import CREATE_REQUEST_EXAMPLE, GENERATE_DATASET_EXAMPLE
from tests.testing._helpers import demo_module

FAST = 0.05  # seconds between polls, for examples that leave poll_interval at its default
demo = demo_module()


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def generated(local_server: Any) -> tuple[int, dict[str, Any]]:
    """The generate_dataset example, as printed (poll_interval shortened); shared by the module."""
    with AshrLabsClient(api_key=local_server.api_key, base_url=local_server.url) as client:
        dataset_id, source = client.generate_dataset(
            request_name="Support Agent Eval",
            config=copy.deepcopy(GENERATE_DATASET_EXAMPLE),
            poll_interval=FAST,  # type: ignore[arg-type]
        )
    return dataset_id, source


@pytest.fixture(scope="module")
def paused_server() -> Iterator[Any]:
    """A local server whose generation and grading workers never run: nothing ever finishes."""
    from ashr_labs.server import LocalServer

    with LocalServer(run_jobs=False) as server:
        yield server


@pytest.fixture
def paused(paused_server: Any) -> Iterator[AshrLabsClient]:
    with AshrLabsClient(api_key=paused_server.api_key, base_url=paused_server.url) as client:
        yield client


# -- AshrLabsClient -------------------------------------------------------------------------------
def test_constructor_examples_and_bad_key_is_value_error() -> None:
    """The two constructor examples build a client; a key not starting with tp_ is ValueError."""
    client = AshrLabsClient(api_key="tp_your_key_here")
    client.close()
    client = AshrLabsClient(api_key="tp_your_key_here", timeout=60)
    client.close()
    for bad in ("sk_your_key_here", "", "tp_"):
        with pytest.raises(ValueError, match="api_key"):
            AshrLabsClient(api_key=bad)


def test_from_env_example_and_runtime_error(
    local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_env reads ASHR_LABS_API_KEY (and the base URL); without the key it is RuntimeError."""
    with pytest.raises(RuntimeError, match="ASHR_LABS_API_KEY"):
        AshrLabsClient.from_env()
    monkeypatch.setenv("ASHR_LABS_API_KEY", local_server.api_key)
    monkeypatch.setenv("ASHR_LABS_BASE_URL", local_server.url)
    client = AshrLabsClient.from_env()
    try:
        assert client.health_check()["status"] == "ok"
    finally:
        client.close()


# -- Session, datasets, runs ----------------------------------------------------------------------
def test_init_example(client: AshrLabsClient, capsys: pytest.CaptureFixture[str]) -> None:
    """init() returns the user and tenant fields the example prints."""
    session = client.init()

    print(f"User ID: {session['user']['id']}")
    print(f"Email: {session['user']['email']}")
    print(f"Tenant ID: {session['tenant']['id']}")
    print(f"Tenant Name: {session['tenant']['tenant_name']}")

    out = capsys.readouterr().out
    assert f"Tenant ID: {session['tenant']['id']}\n" in out and "Email: " in out


def test_init_with_a_revoked_key_is_authentication_error(local_server: Any) -> None:
    """AuthenticationError "if the API key is invalid or expired": a revoked key."""
    from ashr_labs.server import _admin

    tenant_id = _admin.default_tenant(local_server.db)
    assert tenant_id is not None
    key_id, key = _admin.create_api_key(local_server.db, tenant_id, name=unique("expired"))
    _admin.revoke_api_key(local_server.db, key_id)
    with AshrLabsClient(api_key=key, base_url=local_server.url) as client:
        with pytest.raises(AuthenticationError):
            client.init()


def test_dataset_examples(
    client: AshrLabsClient, generated: tuple[int, dict[str, Any]], capsys: Any
) -> None:
    """get_dataset and list_datasets (with its pagination) as printed; unknown id: NotFound."""
    dataset_id, source = generated
    dataset = client.get_dataset(
        dataset_id=dataset_id, include_signed_urls=True, url_expires_seconds=7200
    )
    print(dataset["name"])
    assert dataset["dataset_source"] == source

    response = client.list_datasets(limit=10)
    for dataset in response["datasets"]:
        print(f"{dataset['id']}: {dataset['name']}")
    assert response["status"] == "ok" and "next_cursor" in response

    next_page = None
    if response.get("next_cursor"):
        next_page = client.list_datasets(limit=10, cursor=response["next_cursor"])
    if next_page is not None:
        assert not {d["id"] for d in next_page["datasets"]} & {
            d["id"] for d in response["datasets"]
        }
    assert f"{dataset_id}: " in capsys.readouterr().out
    with pytest.raises(NotFoundError):
        client.get_dataset(dataset_id=2**40)


def test_get_dataset_of_another_tenant_is_authorization_error(
    local_server: Any, generated: tuple[int, dict[str, Any]]
) -> None:
    """AuthorizationError "no access to this dataset": a second tenant's key."""
    from ashr_labs.server import _admin

    tenant_id, _ = _admin.create_tenant(local_server.db, unique("tenant-other"))
    _key_id, key = _admin.create_api_key(local_server.db, tenant_id, name="other")
    with AshrLabsClient(api_key=key, base_url=local_server.url) as other:
        with pytest.raises(AuthorizationError):
            other.get_dataset(dataset_id=generated[0])


def test_run_examples(client: AshrLabsClient, generated: tuple[int, dict[str, Any]]) -> None:
    """create_run, get_run, list_runs and delete_run as printed; a deleted run is NotFound."""
    dataset_id, _ = generated
    run = client.create_run(
        dataset_id=dataset_id,
        result={
            "status": "passed",
            "score": 0.95,
            "metrics": {"accuracy": 0.98, "latency_ms": 150},
        },
    )

    fetched = client.get_run(run_id=run["id"])
    print(f"Score: {fetched['result']['score']}")
    assert fetched["result"]["score"] == 0.95
    graded = client.poll_run(run["id"], timeout=30, poll_interval=1)
    assert graded["grading_status"] == "completed" and graded["result"]["score"] == 0.95

    response = client.list_runs(dataset_id=dataset_id)
    for listed in response["runs"]:
        print(f"Run #{listed['id']}: {listed['result']['status']}")
    assert response["status"] == "ok"
    assert {"id": run["id"], "status": "passed"} in [
        {"id": r["id"], "status": r["result"]["status"]} for r in response["runs"]
    ]

    client.delete_run(run_id=run["id"])
    print("Run deleted")
    with pytest.raises(NotFoundError):
        client.get_run(run_id=run["id"])
    with pytest.raises(NotFoundError):
        client.delete_run(run_id=run["id"])


# -- Observability --------------------------------------------------------------------------------
def _server_trace(client: AshrLabsClient, trace_id: str | None) -> dict[str, Any]:
    assert trace_id is not None
    client.flush()
    answer = client.get_observability_trace(trace_id)
    assert answer["status"] == "ok"
    return dict(answer["trace"])


def test_trace_context_manager_example(client: AshrLabsClient) -> None:
    """The with-block example; a raising tool body ends its span ERROR with the message."""

    def call_llm(*args: Any) -> dict[str, Any]:
        return {"intent": "help"}

    def search(*args: Any) -> list[str]:
        return ["doc-1"]

    with client.trace("handle-ticket", user_id="user_42") as trace:
        with trace.generation(
            "classify", model="claude-sonnet-4-6", input=[{"role": "user", "content": "help"}]
        ) as gen:
            result = call_llm(...)
            gen.end(output=result, usage={"input_tokens": 50, "output_tokens": 12})

        with trace.span("tool:search", input={"query": "..."}) as tool:
            data = search(...)
            tool.end(output=data)

    stored = _server_trace(client, trace.trace_id)
    assert stored["user_id"] == "user_42"
    by_name = {o["name"]: o for o in stored["observations"]}
    assert by_name["classify"]["usage"] == {"input_tokens": 50, "output_tokens": 12}
    assert by_name["classify"]["model"] == "claude-sonnet-4-6"
    assert by_name["tool:search"]["output"] == ["doc-1"]

    def failing_search(*args: Any) -> list[str]:
        raise ConnectionError("search backend down")

    with pytest.raises(ConnectionError):
        with client.trace("handle-ticket", user_id="user_42") as trace:
            with trace.span("tool:search", input={"query": "..."}) as tool:
                data = failing_search(...)
                tool.end(output=data)
    failed = {o["name"]: o for o in _server_trace(client, trace.trace_id)["observations"]}
    assert failed["tool:search"]["level"] == "ERROR"
    assert "search backend down" in failed["tool:search"]["status_message"]


OBSERVATION_KEYS = {
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
    "start_time",
    "end_time",
}
OVERVIEW_KEYS = {
    "total_traces",
    "avg_latency_ms",
    "p95_latency_ms",
    "total_input_tokens",
    "total_output_tokens",
    "error_rate",
    "total_tool_calls",
    "unique_users",
    "unique_sessions",
}


def test_manual_instrumentation_example_and_the_query_shapes(client: AshrLabsClient) -> None:
    """The manual example, then every observability query's documented return shape."""
    session_id = unique("conv_abc")
    trace = client.trace("support-chat", user_id="user_42", session_id=session_id)

    gen = trace.generation(
        "classify-intent",
        model="claude-sonnet-4-6",
        input=[{"role": "user", "content": "Reset my password"}],
    )
    gen.end(output={"intent": "password_reset"}, usage={"input_tokens": 50, "output_tokens": 12})

    tool = trace.span("tool:reset_password", input={"user_id": "user_42"})
    tool.end(output={"success": True})

    trace.event("guardrail-check", input={"passed": True})

    result = trace.end(output={"resolution": "password_reset_complete"})
    print(trace.trace_id)  # server-assigned ID
    assert isinstance(result, dict) and result["status"] != "error"

    stored = _server_trace(client, trace.trace_id)
    assert stored["output"] == {"resolution": "password_reset_complete"}
    assert [o["type"] for o in stored["observations"]] == ["generation", "span", "event"]
    for observation in stored["observations"]:
        assert OBSERVATION_KEYS <= set(observation)

    listed = client.list_observability_traces(user_id="user_42", session_id=session_id)
    assert listed["status"] == "ok" and listed["total"] == 1
    assert [t["id"] for t in listed["traces"]] == [trace.trace_id]
    assert client.list_observability_traces(limit=100, page=2)["status"] == "ok"
    analytics = client.get_observability_analytics(days=7)
    assert OVERVIEW_KEYS <= set(analytics["overview"])
    assert isinstance(analytics["tool_performance"], list)
    assert isinstance(analytics["model_usage"], list)
    for errors in (
        client.get_observability_errors(days=7, limit=50, page=1),
        client.get_observability_tool_errors(days=7, limit=50, page=1),
    ):
        assert errors["status"] == "ok"
        assert isinstance(errors["traces"], list) and isinstance(errors["total"], int)


def test_trace_end_never_raises_when_the_backend_is_gone() -> None:
    """With the backend unreachable, trace.end() returns an error dict instead of raising."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = AshrLabsClient(
        api_key="tp_unreachable_backend",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=0,
        flush_timeout_s=2.0,
    )
    try:
        with client.trace("handle-ticket") as trace:
            trace.event("guardrail-check", input={"passed": True})
        result = trace.end(output={"resolution": "none"}, flush=True)
    finally:
        client.close()
    assert result["status"] == "error" and isinstance(result["message"], str)


# -- SDK notes ------------------------------------------------------------------------------------
def test_notes_examples(local_server: Any, capsys: Any) -> None:
    """client.notes after the client's first use, get_notes(agent_id=...), the breaking filter.

    ``client.notes`` never does I/O (issue 2; the reference: "No network request is made"): it
    holds what the first call's lazy ``init`` (or ``init()``/``get_notes()``) brought, and is
    empty before any call.
    """
    from ashr_labs.server import _admin

    tenant_id, _ = _admin.create_tenant(local_server.db, unique("tenant-notes-example"))
    _key_id, key = _admin.create_api_key(local_server.db, tenant_id, name="notes")
    title = unique("Grading v2")
    _admin.add_note(
        local_server.db,
        title,
        "Tool strictness now defaults to required",
        category="breaking_change",
        severity="critical",
        tenant_id=tenant_id,
    )
    client = AshrLabsClient(api_key=key, base_url=local_server.url)
    try:
        assert client.notes == []  # nothing fetched yet, and reading fetched nothing
        client.list_datasets(limit=1)  # first use: the lazy session brings the notes
        # Notes are auto-fetched on first use
        for note in client.notes:
            print(f"[{note['severity']}] {note['title']}: {note['content']}")
        assert f"[critical] {title}: Tool strictness" in capsys.readouterr().out

        notes = client.get_notes()
        agent = client.create_agent(name=unique("Noted Bot"))
        agent_title = unique("Agent advisory")
        _admin.add_note(
            local_server.db, agent_title, "x", tenant_id=tenant_id, agent_id=agent["id"]
        )
        notes = client.get_notes(agent_id=agent["id"])
        assert agent_title in [n["title"] for n in notes] and client.notes == notes

        breaking = [n for n in notes if n["category"] == "breaking_change"]
        if breaking:
            print("⚠ Breaking changes detected:")
            for n in breaking:
                print(f" {n['title']}: {n['content']}")
        assert f" {title}: " in capsys.readouterr().out
    finally:
        client.close()


# -- Requests -------------------------------------------------------------------------------------
def test_create_request_example_then_get_and_list(client: AshrLabsClient, capsys: Any) -> None:
    """The create_request example is accepted and generates; get/list_requests as printed."""
    req = client.create_request(
        request_name="Support Agent Eval", request=copy.deepcopy(CREATE_REQUEST_EXAMPLE)
    )
    completed = client.wait_for_request(req["id"], timeout=300, poll_interval=FAST)  # type: ignore[arg-type]
    print(f"Status: {completed['request_status']}")
    assert completed["request_status"] == "completed"
    schema = completed["request_input_schema"]
    assert schema is not None and schema["tools"] == CREATE_REQUEST_EXAMPLE["agent"]["tools"]

    req = client.get_request(request_id=req["id"])
    print(f"Status: {req['request_status']}")

    response = client.list_requests(status="completed")
    for listed in response["requests"]:
        print(f"Request #{listed['id']}: {listed['request_name']}")
    assert response["status"] == "ok"
    assert f"Request #{req['id']}: Support Agent Eval" in capsys.readouterr().out
    with pytest.raises(NotFoundError):
        client.get_request(request_id=2**40)


def test_list_requests_pending_example(paused: AshrLabsClient) -> None:
    """list_requests(status="pending") lists a request the workers have not picked up."""
    req = paused.create_request(
        request_name="Pending Eval", request=copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    )
    response = paused.list_requests(status="pending")
    assert req["id"] in [r["id"] for r in response["requests"]]
    assert {r["request_status"] for r in response["requests"]} == {"pending"}


# -- Agents ---------------------------------------------------------------------------------------
def test_agent_examples(
    client: AshrLabsClient, generated: tuple[int, dict[str, Any]], capsys: Any
) -> None:
    """create_agent's example config, list_agents, update (config replaced), link, delete."""
    dataset_id, _ = generated
    agent = client.create_agent(
        name=unique("Support Bot"),
        description="Healthcare scheduling agent",
        config={
            "tool_definitions": [
                {"name": "fetch_kareo_data", "required": True},
                {"name": "end_session", "required": False},
            ],
            "grading_config": {
                "tool_strictness": {
                    "fetch_kareo_data": "required",
                    "end_session": "optional",
                },
            },
        },
    )
    print(f"Created agent: {agent['id']}")

    client.set_dataset_agent(dataset_id, agent["id"])
    agents = client.list_agents()
    for listed in agents:
        print(f"{listed['name']}: {listed['dataset_count']} datasets")
    assert f"{agent['name']}: 1 datasets" in capsys.readouterr().out

    updated = client.update_agent(agent["id"], config={"behavior_rules": []})
    assert updated["config"] == {"behavior_rules": []}  # "config replaces the entire config"
    linked = client.get_agent_datasets(agent["id"])
    assert linked["agent"]["id"] == agent["id"]
    assert [d["id"] for d in linked["datasets"]] == [dataset_id]

    client.delete_agent(agent["id"])  # "Datasets are unlinked but not deleted"
    assert agent["id"] not in [a["id"] for a in client.list_agents()]
    assert client.get_dataset(dataset_id)["agent_id"] is None
    client.set_dataset_agent(dataset_id, agent_id=None)


# -- API keys -------------------------------------------------------------------------------------
def test_api_key_examples(local_server: Any, capsys: Any) -> None:
    """list_api_keys prints prefixes; revoke_api_key revokes; an unknown id is NotFoundError."""
    from ashr_labs.server import _admin

    tenant_id, _ = _admin.create_tenant(local_server.db, unique("tenant-keys-example"))
    _main_id, main_key = _admin.create_api_key(local_server.db, tenant_id, name="main")
    spare_id, spare_key = _admin.create_api_key(local_server.db, tenant_id, name="spare")
    with AshrLabsClient(api_key=main_key, base_url=local_server.url) as client:
        keys = client.list_api_keys()
        for key in keys:
            print(f"{key['key_prefix']}... - {key['name']}")
        assert f"{spare_key[: len(keys[0]['key_prefix'])]}... - spare" in capsys.readouterr().out

        client.revoke_api_key(api_key_id=spare_id)
        print("API key revoked")
        assert spare_id not in [k["id"] for k in client.list_api_keys()]
        assert spare_id in [k["id"] for k in client.list_api_keys(include_inactive=True)]
        with pytest.raises(NotFoundError):
            client.revoke_api_key(api_key_id=2**40)


# -- Convenience methods --------------------------------------------------------------------------
def test_wait_for_request_timeout_error(paused: AshrLabsClient) -> None:
    """TimeoutError when the request does not finish within timeout seconds."""
    req = paused.create_request(
        request_name="My Eval", request=copy.deepcopy(CREATE_REQUEST_EXAMPLE)
    )
    with pytest.raises(TimeoutError, match=f"Request {req['id']} did not complete within"):
        paused.wait_for_request(req["id"], timeout=0.3, poll_interval=FAST)  # type: ignore[arg-type]


def _unworkable_config() -> dict[str, Any]:
    """Passes every client check; the generator finds nothing left to generate and fails."""
    config = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    config["test_config"] = {"coverage": {"happy_path": True}, "exclude": ["happy_path"]}
    return config


def test_failed_generation_is_ashr_labs_error(client: AshrLabsClient) -> None:
    """wait_for_request and generate_dataset raise AshrLabsError when generation fails."""
    req = client.create_request(request_name="My Eval", request=_unworkable_config())
    with pytest.raises(AshrLabsError, match=f"^Request {req['id']} failed: test_config"):
        client.wait_for_request(req["id"], timeout=30, poll_interval=FAST)  # type: ignore[arg-type]
    with pytest.raises(AshrLabsError, match="failed: test_config") as info:
        client.generate_dataset("My Eval", _unworkable_config(), poll_interval=FAST)  # type: ignore[arg-type]
    assert not isinstance(info.value, TimeoutError)


def test_run_builder_deploy_and_poll_run_examples(
    client: AshrLabsClient, generated: tuple[int, dict[str, Any]], capsys: Any
) -> None:
    """The RunBuilder example deployed, then poll_run's example until graded."""
    dataset_id, _ = generated
    run = RunBuilder()
    run.start()

    test = run.add_test("bank_analysis")
    test.start()
    test.add_user_text(text="Analyze this", description="User prompt")
    with pytest.warns(UserWarning, match="argument_comparison"):  # the published client warns too
        test.add_tool_call(
            expected={"tool_name": "analyze", "arguments": {"data": "input"}},
            actual={"tool_name": "analyze", "arguments": {"data": "input"}},
            match_status="exact",
        )
    test.complete()

    run.complete()
    created_run = run.deploy(client, dataset_id=dataset_id)
    print(f"Run #{created_run['id']} created")

    polls: list[tuple[int, int]] = []
    graded = client.poll_run(
        created_run["id"],
        poll_interval=FAST,  # type: ignore[arg-type]
        on_poll=lambda elapsed, r: polls.append((elapsed, r["id"])),
    )
    metrics = graded["result"]["aggregate_metrics"]
    print(f"Passed: {metrics['tests_passed']}/{metrics['total_tests']}")
    assert metrics["total_tests"] == 1 and isinstance(metrics["tests_passed"], int)
    assert all(isinstance(e, int) and rid == created_run["id"] for e, rid in polls)
    assert f"Run #{created_run['id']} created" in capsys.readouterr().out


def test_poll_run_timeout_error(paused: AshrLabsClient) -> None:
    """TimeoutError when grading does not finish within timeout seconds, after on_poll calls."""
    run = paused.create_run(dataset_id=None, result={"tests": []})  # type: ignore[arg-type]
    seen: list[int] = []
    with pytest.raises(TimeoutError, match=f"Run {run['id']} grading did not complete"):
        paused.poll_run(
            run["id"],
            timeout=0.3,  # type: ignore[arg-type]
            poll_interval=FAST,  # type: ignore[arg-type]
            on_poll=lambda elapsed, r: seen.append(elapsed),
        )
    assert seen


def test_health_check_example(client: AshrLabsClient, capsys: Any) -> None:
    status = client.health_check()
    print(f"API Status: {status['status']}")
    assert capsys.readouterr().out == "API Status: ok\n"


# -- EvalRunner and the Agent protocol ------------------------------------------------------------
def test_eval_runner_examples(
    client: AshrLabsClient, generated: tuple[int, dict[str, Any]], capsys: Any
) -> None:
    """EvalRunner(source), from_dataset, run (sequential, 4 workers), run_and_deploy both ways."""
    dataset_id, source = generated
    agent = demo.DemoSupportAgent()
    assert isinstance(agent, Agent)  # Works at runtime

    runner = EvalRunner(source)
    sequential = runner.run(agent)
    runner = EvalRunner.from_dataset(client, dataset_id=dataset_id)
    parallel = runner.run(agent, max_workers=4)
    assert len(parallel.tests) == len(sequential.tests) == len(source["runs"])

    created = runner.run_and_deploy(agent, client, dataset_id=dataset_id)
    print(f"Run #{created['id']} submitted")
    created = runner.run_and_deploy(agent, client, dataset_id=dataset_id, max_workers=4)
    assert created["dataset"] == dataset_id
    assert "submitted" in capsys.readouterr().out

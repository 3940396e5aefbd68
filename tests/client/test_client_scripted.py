"""AshrLabsClient against the scripted backend: constructor checks (F19), the lazy session (F56),
the keys each method sends (protocol.md §2.2), missing resource keys (F42), idempotency keys
across retries (F37), and the wait helpers (§3.2, §3.3, §3.5)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ashr_labs import (
    AshrLabsClient,
    AshrLabsError,
    ConfigurationError,
    TransportError,
    WaitTimeoutError,
)
from ashr_labs.observability._options import TracingOptions
from tests.support.scripted_backend import ScriptedBackend, Step

KEY = "tp_client_canary_8d2e4f6a0b"
INIT = {
    "status": "ok",
    "user": {"id": 7, "email": "a@b.c"},
    "tenant": {"id": 3, "tenant_name": "Acme"},
    "notes": [{"id": 1, "title": "hello", "severity": "info"}],
}


def init_step() -> Step:
    return Step(body=INIT)


@pytest.fixture
def backend() -> Iterator[ScriptedBackend]:
    def respond(received: Any) -> Step | None:
        if received.function == "init":
            return init_step()
        return None

    with ScriptedBackend(respond) as b:
        yield b


@pytest.fixture
def client(backend: ScriptedBackend) -> Iterator[AshrLabsClient]:
    c = AshrLabsClient(KEY, backend.url, timeout=5)
    c._transport.backoff_base_s = 0.01
    c._transport.backoff_max_s = 0.02
    yield c
    c.close()


def sent(backend: ScriptedBackend, function: str) -> dict[str, Any]:
    bodies = backend.bodies(function)
    assert bodies, f"no {function} request; saw {[r.function for r in backend.requests]}"
    body = dict(bodies[-1])
    body.pop("function")
    return body


# --- constructor (F19, F43 client side) ----------------------------------------------------------


@pytest.mark.parametrize("key", ["", "abc", "TP_x", "tp_", None, 123, b"tp_x"])
def test_f43_bad_api_key_is_value_error(key: Any) -> None:
    """A key that is not a non-empty ``tp_`` string is a ValueError at construction."""
    with pytest.raises(ValueError, match="api_key: expected a non-empty str starting with 'tp_'"):
        AshrLabsClient(key, "http://127.0.0.1:9")


@pytest.mark.parametrize("timeout", [0, -1, "abc", None, float("nan"), float("inf"), True])
def test_f19_bad_timeout_names_the_setting(timeout: Any) -> None:
    """A timeout that is not a positive number raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=r"^timeout: expected a positive number"):
        AshrLabsClient(KEY, "http://127.0.0.1:9", timeout=timeout)


def test_f19_timeout_in_milliseconds_warns_once_and_client_works(
    backend: ScriptedBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """timeout=2000 logs one warning that the unit is seconds; the client still works."""
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        c = AshrLabsClient(KEY, backend.url, timeout=2000)
    warnings = [r for r in caplog.records if "in seconds" in r.getMessage()]
    assert len(warnings) == 1
    assert c.health_check() == {"status": "ok"}
    c.close()


@pytest.mark.parametrize(
    "url",
    ["api.ashr.io", "ftp://x.y", "http://", "https://:80", "not a url", "", "http://h:99999"],
)
def test_f19_malformed_base_url_fails_at_construction(url: str) -> None:
    """A malformed base URL raises ConfigurationError naming base_url."""
    with pytest.raises(ConfigurationError, match="base_url"):
        AshrLabsClient(KEY, url)


def test_f19_malformed_env_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env with a malformed ASHR_LABS_BASE_URL names the variable."""
    monkeypatch.setenv("ASHR_LABS_API_KEY", KEY)
    monkeypatch.setenv("ASHR_LABS_BASE_URL", "nope")
    with pytest.raises(ConfigurationError, match="^ASHR_LABS_BASE_URL: "):
        AshrLabsClient.from_env()


def test_from_env_reads_key_and_url(
    monkeypatch: pytest.MonkeyPatch, backend: ScriptedBackend
) -> None:
    """from_env reads both variables and the timeout argument."""
    monkeypatch.setenv("ASHR_LABS_API_KEY", KEY)
    monkeypatch.setenv("ASHR_LABS_BASE_URL", backend.url + "/")
    c = AshrLabsClient.from_env(timeout=7)
    assert (c.base_url, c.timeout) == (backend.url, 7)
    c.health_check()
    assert backend.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    c.close()


def test_from_env_without_key_is_runtime_error() -> None:
    """from_env raises RuntimeError when ASHR_LABS_API_KEY is missing."""
    with pytest.raises(RuntimeError, match="ASHR_LABS_API_KEY"):
        AshrLabsClient.from_env()


def test_from_env_defaults_to_hosted_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ASHR_LABS_BASE_URL the hosted API is used (nothing is contacted)."""
    monkeypatch.setenv("ASHR_LABS_API_KEY", KEY)
    c = AshrLabsClient.from_env()
    assert c.base_url == "https://api.ashr.io/testing-platform-api"
    c.close()


def test_tracing_kwargs_build_options_and_unknown_kwarg_is_type_error() -> None:
    """TracingOptions fields are accepted as keywords; anything else is a TypeError."""
    base = TracingOptions(flush_timeout_s=1.0)
    c = AshrLabsClient(KEY, "http://127.0.0.1:9", tracing=base, capture_content=False)
    assert c._tracing_options == TracingOptions(flush_timeout_s=1.0, capture_content=False)
    c.close()
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        AshrLabsClient(KEY, "http://127.0.0.1:9", bogus=1)


def test_constructor_contacts_nobody(backend: ScriptedBackend) -> None:
    """Construction and close send nothing."""
    AshrLabsClient(KEY, backend.url).close()
    assert backend.count() == 0


def test_close_is_idempotent_and_context_manager_closes(backend: ScriptedBackend) -> None:
    """close() twice is fine; after the with block calls raise TransportError."""
    with AshrLabsClient(KEY, backend.url) as c:
        c.health_check()
    c.close()
    with pytest.raises(TransportError, match="closed"):
        c.health_check()


def test_deepcopy_shares_the_client_and_pickle_is_refused() -> None:
    """deepcopy returns the same client (agents can be copied); pickling is refused."""
    import pickle

    c = AshrLabsClient(KEY, "http://127.0.0.1:9")
    holder = {"client": c}
    assert copy.deepcopy(holder)["client"] is c
    assert copy.copy(c) is c
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(c)
    c.close()


# --- lazy session (F56, §3.1) --------------------------------------------------------------------


def test_f56_eight_threads_send_one_init(backend: ScriptedBackend) -> None:
    """Eight threads making their first tenant-scoped call at once send exactly one init."""
    backend._responder = None
    gate = threading.Event()
    backend.on("init", Step(body=INIT, event=gate, action="hold", hold_cap_s=5))
    backend.default = Step(body={"status": "ok", "runs": []})
    c = AshrLabsClient(KEY, backend.url, timeout=10)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(5)
            c.list_runs()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    backend.wait_for(lambda b: b.count("init") >= 1)
    gate.set()
    for th in threads:
        th.join(10)
    assert not errors
    assert backend.count("init") == 1
    assert backend.count("list_runs") == 8
    assert all(body["tenant_id"] == 3 for body in backend.bodies("list_runs"))
    c.close()


def test_f56_init_reply_without_tenant_is_typed_and_not_cached(backend: ScriptedBackend) -> None:
    """A reply missing tenant raises naming it; the next call sends init again, never null."""
    backend._responder = None
    backend.on("init", Step(body={"status": "ok", "user": {"id": 1}}), Step(body=INIT))
    c = AshrLabsClient(KEY, backend.url)
    with pytest.raises(AshrLabsError, match=r"missing 'tenant\.id'"):
        c.list_runs()
    assert backend.count("list_runs") == 0
    c.list_runs()
    assert backend.count("init") == 2
    assert sent(backend, "list_runs")["tenant_id"] == 3
    c.close()


def test_f56_init_reply_without_user_is_typed(backend: ScriptedBackend) -> None:
    """A reply missing user raises naming ``user.id``."""
    backend._responder = None
    backend.on("init", Step(body={"status": "ok", "tenant": {"id": 3}}))
    c = AshrLabsClient(KEY, backend.url)
    with pytest.raises(AshrLabsError, match=r"missing 'user\.id'"):
        c.list_datasets()
    c.close()


def test_notes_never_do_io_and_init_fills_the_cache(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """client.notes is [] without I/O before init; init() fills ids and notes for later calls."""
    assert client.notes == []
    assert backend.count() == 0
    session = client.init()
    assert session["tenant"]["id"] == 3
    assert client.notes == INIT["notes"]
    client.list_runs()
    backend.on("create_run", Step(body={"status": "ok", "run": {"id": 1}}))
    client.create_run(1, {"tests": []})
    assert backend.count("init") == 1
    assert sent(backend, "create_run")["tenant_id"] == 3


def test_explicit_ids_never_trigger_init(backend: ScriptedBackend, client: AshrLabsClient) -> None:
    """A caller passing every id never causes an init."""
    client.list_runs(tenant_id=11)
    client.list_datasets(tenant_id=11)
    client.list_requests(tenant_id=11)
    backend.push(Step(body={"status": "ok", "run": {"id": 1}}))
    client.create_run(1, {}, tenant_id=11)
    assert backend.count("init") == 0
    assert sent(backend, "list_runs")["tenant_id"] == 11


def test_get_notes_replaces_the_cache(backend: ScriptedBackend, client: AshrLabsClient) -> None:
    """get_notes sends agent_id only when set and replaces client.notes."""
    backend.push(Step(body={"status": "ok", "notes": [{"id": 9}]}))
    assert client.get_notes() == [{"id": 9}]
    assert sent(backend, "get_sdk_notes") == {}
    backend.push(Step(body={"status": "ok", "notes": [{"id": 10}]}))
    assert client.get_notes(agent_id=4) == [{"id": 10}]
    assert sent(backend, "get_sdk_notes") == {"agent_id": 4}
    assert client.notes == [{"id": 10}]
    assert backend.count("init") == 0


# --- keys sent per function (protocol.md §2.2) ---------------------------------------------------

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str | None]] = [
    # (method, wire function, kwargs, expected body without "function", resource key)
    (
        "get_dataset",
        "get_dataset",
        {"dataset_id": 4},
        {"dataset_id": 4, "include_signed_urls": False, "url_expires_seconds": 3600},
        "dataset",
    ),
    (
        "list_datasets",
        "list_datasets",
        {},
        {"tenant_id": 3, "limit": 50, "include_signed_urls": False, "url_expires_seconds": 3600},
        None,
    ),
    (
        "list_datasets",
        "list_datasets",
        {"limit": 10, "cursor": 5, "tenant_id": 2},
        {
            "tenant_id": 2,
            "limit": 10,
            "include_signed_urls": False,
            "url_expires_seconds": 3600,
            "cursor": 5,
        },
        None,
    ),
    ("get_run", "get_run", {"run_id": 8}, {"run_id": 8}, "run"),
    ("list_runs", "list_runs", {}, {"tenant_id": 3, "limit": 50}, None),
    (
        "list_runs",
        "list_runs",
        {"dataset_id": 2, "limit": 5},
        {"tenant_id": 3, "limit": 5, "dataset_id": 2},
        None,
    ),
    ("delete_run", "delete_run", {"run_id": 8}, {"run_id": 8}, None),
    ("get_request", "get_request", {"request_id": 8}, {"request_id": 8}, "request"),
    ("list_requests", "list_requests", {}, {"tenant_id": 3, "limit": 50}, None),
    (
        "list_requests",
        "list_requests",
        {"status": "pending", "cursor": 3},
        {"tenant_id": 3, "limit": 50, "status": "pending", "cursor": 3},
        None,
    ),
    ("list_api_keys", "list_api_keys", {}, {"include_inactive": False}, "api_keys"),
    ("revoke_api_key", "revoke_api_key", {"api_key_id": 2}, {"api_key_id": 2}, None),
    ("list_agents", "list_agents", {}, {}, "agents"),
    ("update_agent", "update_agent", {"agent_id": 2}, {"agent_id": 2}, "agent"),
    (
        "update_agent",
        "update_agent",
        {"agent_id": 2, "name": "n", "description": "d", "config": {"a": 1}},
        {"agent_id": 2, "name": "n", "description": "d", "config": {"a": 1}},
        "agent",
    ),
    ("delete_agent", "delete_agent", {"agent_id": 2}, {"agent_id": 2}, None),
    (
        "get_agent_datasets",
        "get_agent_datasets",
        {"agent_id": 2, "include_signed_urls": True},
        {"agent_id": 2, "include_signed_urls": True},
        None,
    ),
    (
        "set_dataset_agent",
        "set_dataset_agent",
        {"dataset_id": 1, "agent_id": None},
        {"dataset_id": 1, "agent_id": None},
        None,
    ),
    ("health_check", "keep_alive", {}, {}, None),
    ("list_observability_traces", "list_observability_traces", {}, {"limit": 50, "page": 1}, None),
    (
        "list_observability_traces",
        "list_observability_traces",
        {"user_id": "u", "session_id": "s", "limit": 5, "page": 2},
        {"limit": 5, "page": 2, "user_id": "u", "session_id": "s"},
        None,
    ),
    (
        "get_observability_trace",
        "get_observability_trace",
        {"trace_id": "abc"},
        {"trace_id": "abc"},
        None,
    ),
    ("get_observability_analytics", "get_observability_analytics", {}, {"days": 7}, None),
    (
        "get_observability_errors",
        "get_observability_errors",
        {},
        {"days": 7, "limit": 50, "page": 1},
        None,
    ),
    (
        "get_observability_tool_errors",
        "get_observability_tool_errors",
        {"days": 1},
        {"days": 1, "limit": 50, "page": 1},
        None,
    ),
]


@pytest.mark.parametrize(("method", "function", "kwargs", "expected", "resource"), CASES)
def test_each_method_sends_the_documented_keys(
    backend: ScriptedBackend,
    client: AshrLabsClient,
    method: str,
    function: str,
    kwargs: dict[str, Any],
    expected: dict[str, Any],
    resource: str | None,
) -> None:
    """Every method sends its 'always' keys and its 'if set' keys only when set."""
    reply: dict[str, Any] = {"status": "ok"}
    if resource:
        reply[resource] = [] if resource in ("api_keys", "agents") else {"id": 1}
    backend.on(function, Step(body=reply))
    result = getattr(client, method)(**kwargs)
    assert sent(backend, function) == expected
    assert result == (reply[resource] if resource else reply)


@pytest.mark.parametrize(
    ("method", "function", "kwargs", "resource"),
    [(m, f, k, r) for (m, f, k, _e, r) in CASES if r]
    + [
        ("create_run", "create_run", {"dataset_id": 1, "result": {}}, "run"),
        ("create_agent", "create_agent", {"name": "a"}, "agent"),
        (
            "create_request",
            "create_request",
            {"request_name": "r", "request": {"agent": {"name": "a"}, "context": {"domain": "x"}}},
            "request",
        ),
    ],
)
def test_f42_missing_resource_key_is_typed(
    backend: ScriptedBackend,
    client: AshrLabsClient,
    method: str,
    function: str,
    kwargs: dict[str, Any],
    resource: str,
) -> None:
    """A success body without its resource key raises AshrLabsError naming the key."""
    backend.on(function, Step(body={"status": "ok"}))
    with pytest.raises(AshrLabsError, match=f"missing '{resource}'") as info:
        getattr(client, method)(**kwargs)
    assert not isinstance(info.value, KeyError)


def test_create_run_sends_runner_only_when_set(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """create_run sends tenant, dataset and result always, runner_id only when set."""
    backend.on("create_run", Step(body={"status": "ok", "run": {"id": 1}}))
    backend.on("create_run", Step(body={"status": "ok", "run": {"id": 2}}))
    client.create_run(4, {"tests": []})
    body = sent(backend, "create_run")
    key = body.pop("idempotency_key")
    assert body == {"tenant_id": 3, "dataset_id": 4, "result": {"tests": []}}
    assert isinstance(key, str) and len(key) == 32
    client.create_run(4, {"tests": []}, runner_id=9)
    body2 = sent(backend, "create_run")
    assert body2["runner_id"] == 9 and body2["idempotency_key"] != key


def test_create_agent_sends_optional_keys_only_when_set(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """create_agent leaves out description and config when they are None."""
    backend.on("create_agent", Step(body={"status": "ok", "agent": {"id": 1}}))
    backend.on("create_agent", Step(body={"status": "ok", "agent": {"id": 2}}))
    client.create_agent("bot")
    assert set(sent(backend, "create_agent")) == {"name", "idempotency_key"}
    client.create_agent("bot2", description="d", config={"grading_config": {}})
    body = sent(backend, "create_agent")
    assert (body["description"], body["config"]) == ("d", {"grading_config": {}})


@pytest.mark.parametrize(
    ("method", "kwargs", "function", "resource"),
    [
        ("create_run", {"dataset_id": 1, "result": {}}, "create_run", "run"),
        ("create_agent", {"name": "a"}, "create_agent", "agent"),
        (
            "create_request",
            {"request_name": "r", "request": {"agent": {"name": "a"}, "context": {"domain": "x"}}},
            "create_request",
            "request",
        ),
    ],
)
def test_f37_create_calls_reuse_one_idempotency_key_across_retries(
    backend: ScriptedBackend,
    client: AshrLabsClient,
    method: str,
    kwargs: dict[str, Any],
    function: str,
    resource: str,
) -> None:
    """A create call retried after a reset and a 503 sends the same idempotency key each time."""
    backend.on(
        function,
        Step(action="reset"),
        Step(503, body={"status": "error", "message": "busy"}),
        Step(body={"status": "ok", resource: {"id": 5}}),
    )
    assert getattr(client, method)(**kwargs) == {"id": 5}
    keys = [b["idempotency_key"] for b in backend.bodies(function)]
    assert len(keys) == 3 and len(set(keys)) == 1


def test_bad_argument_types_are_named(backend: ScriptedBackend, client: AshrLabsClient) -> None:
    """Ids of the wrong type raise ConfigurationError naming the parameter; nothing is sent."""
    with pytest.raises(ConfigurationError, match="run_id: expected an int, got '7'"):
        client.get_run("7")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="dataset_id: expected an int, got True"):
        client.get_dataset(True)
    with pytest.raises(ConfigurationError, match="result: expected a dict"):
        client.create_run(1, [1])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="trace_id"):
        client.get_observability_trace("")
    assert backend.count() == 0


# --- wait helpers (§3.2, §3.3, §3.5) -------------------------------------------------------------


def request_reply(status: str, **extra: Any) -> Step:
    return Step(body={"status": "ok", "request": {"id": 5, "request_status": status, **extra}})


def test_wait_for_request_polls_until_completed(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """pending → processing → COMPLETED (not terminal) → completed returns the request."""
    backend.on(
        "get_request",
        request_reply("pending"),
        request_reply("processing"),
        request_reply("COMPLETED"),
        request_reply("completed"),
    )
    done = client.wait_for_request(5, timeout=5, poll_interval=0.01)
    assert done["request_status"] == "completed"
    assert backend.count("get_request") == 4


def test_wait_for_request_failed_raises_with_the_server_error(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """A failed request raises AshrLabsError quoting the server's error."""
    backend.on("get_request", request_reply("failed", error="model exploded"))
    with pytest.raises(AshrLabsError, match="^Request 5 failed: model exploded$") as info:
        client.wait_for_request(5, timeout=5, poll_interval=0.01)
    assert info.value.status_code is None


def test_wait_for_request_times_out_as_timeout_error(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """Still pending at the deadline raises WaitTimeoutError (a TimeoutError); 0 polls at 0."""
    backend.default = request_reply("pending")
    with pytest.raises(TimeoutError, match="^Request 5 did not complete within 0.3s$") as info:
        client.wait_for_request(5, timeout=0.3, poll_interval=0.05)  # type: ignore[arg-type]
    assert isinstance(info.value, WaitTimeoutError)
    before = backend.count("get_request")
    with pytest.raises(WaitTimeoutError):
        client.wait_for_request(5, timeout=0)
    assert backend.count("get_request") == before


def run_reply(tests_passed: Any, grading_status: str = "pending", **extra: Any) -> Step:
    result = {"aggregate_metrics": {"tests_passed": tests_passed, "total_tests": 2}}
    return Step(
        body={
            "status": "ok",
            "run": {"id": 9, "result": result, "grading_status": grading_status, **extra},
        }
    )


def test_poll_run_calls_on_poll_until_graded(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """poll_run calls on_poll while tests_passed is null and returns the graded run."""
    backend.on("get_run", run_reply(None), run_reply(None), run_reply(2, "completed"))
    seen: list[tuple[int, int]] = []
    run = client.poll_run(
        9, timeout=5, poll_interval=0.01, on_poll=lambda e, r: seen.append((e, r["id"]))
    )
    assert run["result"]["aggregate_metrics"]["tests_passed"] == 2
    assert [rid for _e, rid in seen] == [9, 9]
    assert all(isinstance(e, int) for e, _ in seen)


def test_poll_run_stops_on_failed_grading(backend: ScriptedBackend, client: AshrLabsClient) -> None:
    """grading_status 'failed' raises AshrLabsError with the server's message at once."""
    backend.on("get_run", run_reply(None, "failed", grading_error="grader crashed"))
    with pytest.raises(AshrLabsError, match="grader crashed"):
        client.poll_run(9, timeout=5, poll_interval=0.01)
    assert backend.count("get_run") == 1


def test_poll_run_times_out_after_at_least_one_poll(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """With timeout 0 one poll still happens, then WaitTimeoutError with the protocol text."""
    backend.default = run_reply(None)
    with pytest.raises(WaitTimeoutError, match="^Run 9 grading did not complete within 0s$"):
        client.poll_run(9, timeout=0, poll_interval=0.01)
    assert backend.count("get_run") == 1


def test_poll_run_tolerates_a_null_result(backend: ScriptedBackend, client: AshrLabsClient) -> None:
    """A run whose result is null keeps polling instead of raising AttributeError."""
    backend.on("get_run", Step(body={"status": "ok", "run": {"id": 9, "result": None}}))
    backend.on("get_run", run_reply(1, "completed"))
    assert client.poll_run(9, timeout=5, poll_interval=0.01)["id"] == 9


def test_generate_dataset_wire_sequence_and_enrichment(backend: ScriptedBackend) -> None:
    """generate_dataset sends init, create_request, get_request…, list_datasets, get_dataset."""
    backend.on("create_request", Step(body={"status": "ok", "request": {"id": 5}}))
    backend.on("get_request", request_reply("pending"), request_reply("completed"))
    backend.on(
        "list_datasets",
        Step(
            body={
                "status": "ok",
                "next_cursor": None,
                "datasets": [{"id": 1, "request_id": 4}, {"id": 2, "request_id": 5}],
            }
        ),
    )
    source = {"runs": {"s1": {"actions": []}}}
    backend.on(
        "get_dataset", Step(body={"status": "ok", "dataset": {"id": 2, "dataset_source": source}})
    )
    c = AshrLabsClient(KEY, backend.url)
    config = {
        "agent": {"name": "Bot", "description": "Does X", "accepted_inputs": {"text": True}},
        "context": {"domain": "banking"},
        "generation_options": {"generate_audio": False},
    }
    original = copy.deepcopy(config)
    assert c.generate_dataset("Eval", config, poll_interval=0.01) == (2, source)
    assert config == original  # the caller's dict is untouched
    assert [r.function for r in backend.requests] == [
        "init",
        "create_request",
        "get_request",
        "get_request",
        "list_datasets",
        "get_dataset",
    ]
    request = sent(backend, "create_request")["request"]
    assert request["context"] == {
        "domain": "banking",
        "use_case": "Does X",
        "scenario_context": "A user interacting with Bot in the banking domain \u2014 Does X",
    }
    assert request["test_config"] == {
        "num_variations": 5,
        "coverage": {"happy_path": True, "edge_cases": True, "error_handling": True},
    }
    assert sent(backend, "list_datasets")["limit"] == 10
    assert sent(backend, "get_dataset")["include_signed_urls"] is False
    c.close()


def test_generate_dataset_without_matching_dataset_raises(backend: ScriptedBackend) -> None:
    """No dataset carrying the request id raises 'No dataset found for request <id>'."""
    backend.on("create_request", Step(body={"status": "ok", "request": {"id": 5}}))
    backend.on("get_request", request_reply("completed"))
    backend.on("list_datasets", Step(body={"status": "ok", "datasets": [], "next_cursor": None}))
    c = AshrLabsClient(KEY, backend.url)
    with pytest.raises(AshrLabsError, match="^No dataset found for request 5$"):
        c.generate_dataset("Eval", {"agent": {"name": "Bot"}, "context": {"domain": "x"}})
    c.close()


def test_create_request_sends_defaults_and_schema(
    backend: ScriptedBackend, client: AshrLabsClient
) -> None:
    """create_request fills accepted_inputs/generation_options and sends the default schema."""
    tools = [{"name": "lookup", "parameters": {"type": "object"}}]
    backend.on("create_request", Step(body={"status": "ok", "request": {"id": 1}}))
    backend.on("create_request", Step(body={"status": "ok", "request": {"id": 2}}))
    client.create_request("r", {"agent": {"name": "a", "tools": tools}, "context": {"domain": "x"}})
    body = sent(backend, "create_request")
    assert (body["tenant_id"], body["requestor_id"], body["request_name"]) == (3, 7, "r")
    assert body["request"]["agent"]["accepted_inputs"] == {"text": True}
    assert body["request"]["generation_options"] == {
        "generate_audio": False,
        "generate_files": False,
        "generate_images": False,
        "generate_videos": False,
        "generate_simulations": False,
    }
    assert body["request_input_schema"] == {"type": "object", "properties": {}, "tools": tools}
    schema = {"type": "object", "properties": {"q": {}}}
    client.create_request(
        "r",
        {"agent": {"name": "a"}, "context": {"domain": "x"}},
        schema,
        tenant_id=1,
        requestor_id=2,
    )
    body = sent(backend, "create_request")
    assert body["request_input_schema"] == schema
    assert (body["tenant_id"], body["requestor_id"]) == (1, 2)


@pytest.mark.timing
def test_f41_client_timeout_is_the_overall_deadline() -> None:
    """A client with timeout=1 against a server that never answers fails in about 1 s."""
    import time

    from ashr_labs import RequestTimeoutError
    from tests.support.scripted_backend import blackhole

    with blackhole() as hole:
        client = AshrLabsClient(KEY, hole.url, timeout=1)
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="Request timed out"):
            client.get_run(1)
        assert 0.9 <= time.monotonic() - start < 2.0
        client.close()


def test_plausible_timeout_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    """A timeout of 600 s or less logs nothing."""
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        AshrLabsClient(KEY, "http://127.0.0.1:9", timeout=600).close()
    assert not [r for r in caplog.records if "in seconds" in r.getMessage()]

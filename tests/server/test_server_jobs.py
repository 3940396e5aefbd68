"""Generation and grading jobs on the local server, crash recovery included (FAULTS.md F58)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ashr_labs.server import LocalServer
from tests.support.configs import run_result
from tests.support.server_rpc import Tenant, new_tenant, post

CONFIG: dict[str, Any] = {
    "metadata": {"dataset_name": "Support Eval"},
    "agent": {
        "name": "Support Bot",
        "description": "Answers questions about orders",
        "tools": [
            {
                "name": "lookup_order",
                "description": "Look up an order by ID",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                },
            }
        ],
        "accepted_inputs": {"text": True},
    },
    "context": {"domain": "e-commerce", "use_case": "Customers asking about orders"},
    "generation_options": {"generate_audio": False},
    "test_config": {"num_variations": 3},
}


@pytest.fixture
def t(local_server: Any) -> Tenant:
    return new_tenant(local_server)


def test_generation_job_creates_the_dataset(t: Tenant, local_server: Any) -> None:
    """A request ends completed; its dataset carries request_id, the configured name and agent."""
    agent = t.ok("create_agent", name="gen-agent")["agent"]
    req = t.ok("create_request", request_name="Eval", request=CONFIG, agent_id=agent["id"])
    request_id = req["request"]["id"]
    local_server.wait_idle(20)
    done = t.ok("get_request", request_id=request_id)["request"]
    assert done["request_status"] == "completed" and done["error"] is None
    listed = t.ok("list_datasets", limit=10)["datasets"]
    mine = [d for d in listed if d["request_id"] == request_id]
    assert len(mine) == 1 and listed[0]["id"] == mine[0]["id"]
    dataset = t.ok("get_dataset", dataset_id=mine[0]["id"])["dataset"]
    assert dataset["name"] == "Support Eval" and dataset["agent_id"] == agent["id"]
    assert dataset["creator"] == t.user_id and dataset["tenant"] == t.tenant_id
    runs = dataset["dataset_source"]["runs"]
    assert isinstance(runs, dict) and len(runs) == 3
    assert t.ok("list_agents")["agents"][0]["dataset_count"] == 1


def test_generation_failure_is_readable(t: Tenant, local_server: Any) -> None:
    """A config the generator cannot use ends failed with a message, never a null error."""
    req = t.ok("create_request", request_name="bad", request={"agent": "not an object"})
    local_server.wait_idle(20)
    done = t.ok("get_request", request_id=req["request"]["id"])["request"]
    assert done["request_status"] == "failed"
    assert isinstance(done["error"], str) and "agent" in done["error"]


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    module = types.ModuleType(f"ashr_labs.server.{name}")
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, f"ashr_labs.server.{name}", module)


def test_f58_generator_crash_fails_the_request_with_a_reference(
    t: Tenant, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator raising an unexpected exception ends the request failed with a ref, not stuck."""
    from ashr_labs.server import _generation

    def crash(config: dict[str, Any], *, request_name: str) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(_generation, "generate_dataset_source", crash)
    req = t.ok("create_request", request_name="crash", request=CONFIG)
    local_server.wait_idle(20)
    done = t.ok("get_request", request_id=req["request"]["id"])["request"]
    assert done["request_status"] == "failed"
    assert done["error"].startswith("internal error while generating the dataset (ref ")


class _GradingError(Exception):
    pass


def test_f58_failing_grader_marks_the_run_failed(
    t: Tenant, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grader raising GradingError ends grading_status failed with its message."""

    def grade_run(result: dict[str, Any], *, agent_config: Any = None, **_: Any) -> Any:
        raise _GradingError("tests[0]: no action results to grade")

    _fake_module(monkeypatch, "_grading", GradingError=_GradingError, grade_run=grade_run)
    run = t.ok("create_run", dataset_id=t.add_dataset(), result=run_result())["run"]
    local_server.wait_idle(20)
    got = t.ok("get_run", run_id=run["id"])["run"]
    assert got["grading_status"] == "failed"
    assert got["grading_error"] == "tests[0]: no action results to grade"
    assert got["result"]["aggregate_metrics"]["tests_passed"] is None


def test_grading_uses_the_agent_config_and_fills_tests_passed(
    t: Tenant, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grader gets the dataset's agent config; its document is stored and poll_run can stop."""
    seen: list[Any] = []

    def grade_run(result: dict[str, Any], *, agent_config: Any = None, **_: Any) -> Any:
        seen.append(agent_config)
        graded = json.loads(json.dumps(result))
        graded["aggregate_metrics"]["tests_passed"] = 1
        return graded

    _fake_module(monkeypatch, "_grading", GradingError=_GradingError, grade_run=grade_run)
    cfg = {"grading_config": {"text_similarity_threshold": 0.3}}
    agent = t.ok("create_agent", name="grader-agent", config=cfg)["agent"]
    ds = t.add_dataset(agent_id=agent["id"])
    run = t.ok("create_run", dataset_id=ds, result=run_result())["run"]
    assert run["grading_status"] == "pending"
    local_server.wait_idle(20)
    got = t.ok("get_run", run_id=run["id"])["run"]
    assert got["grading_status"] == "completed" and got["grading_error"] is None
    assert got["result"]["aggregate_metrics"]["tests_passed"] == 1
    assert seen == [cfg]


def test_real_grader_completes_a_run(t: Tenant, local_server: Any) -> None:
    """With the real grader (task H2) a run ends completed with tests_passed filled in."""
    pytest.importorskip("ashr_labs.server._grading")
    run = t.ok("create_run", dataset_id=t.add_dataset(), result=run_result())["run"]
    local_server.wait_idle(20)
    got = t.ok("get_run", run_id=run["id"])["run"]
    assert got["grading_status"] in ("completed", "failed")
    if got["grading_status"] == "completed":
        assert got["result"]["aggregate_metrics"]["tests_passed"] is not None
    else:
        assert got["grading_error"]


# -- F58: SIGKILL mid-job, then restart ------------------------------------------------------------
_CHILD = textwrap.dedent(
    """
    import sys, time
    from ashr_labs.server import LocalServer
    srv = LocalServer(data_dir=sys.argv[1], job_delay_s=float(sys.argv[2]))
    srv.start()
    print(srv.url, srv.api_key, flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def child_servers() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)
        if p.stdout:
            p.stdout.close()


def _start_child(
    procs: list[subprocess.Popen[str]], data_dir: Path, delay: float
) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASHR_LABS_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert len(line) == 2, "child server did not start"
    return line[0], line[1]


def _poll(
    url: str, key: str, function: str, params: dict[str, Any], until: Any, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = post(url, {"function": function, **params}, key=key).json
        if until(last):
            return dict(last)
        time.sleep(0.05)
    raise AssertionError(f"{function} never reached the state; last answer {last}")


def test_f58_sigkill_mid_job_then_restart_ends_terminal(
    tmp_path: Path, child_servers: list[subprocess.Popen[str]]
) -> None:
    """Killed while generating and with a run queued, the restarted server finishes both."""
    url, key = _start_child(child_servers, tmp_path, delay=60)
    req = post(url, {"function": "create_request", "request_name": "k", "request": CONFIG}, key=key)
    request_id = req.json["request"]["id"]
    run = post(url, {"function": "create_run", "dataset_id": None, "result": run_result()}, key=key)
    run_id = run.json["run"]["id"]
    _poll(
        url,
        key,
        "get_request",
        {"request_id": request_id},
        lambda b: b["request"]["request_status"] == "processing",
    )
    child_servers[0].send_signal(signal.SIGKILL)
    child_servers[0].wait(10)

    url, key = _start_child(child_servers, tmp_path, delay=0)
    done = _poll(
        url,
        key,
        "get_request",
        {"request_id": request_id},
        lambda b: b["request"]["request_status"] in ("completed", "failed"),
    )
    assert done["request"]["request_status"] == "completed", done
    graded = _poll(
        url, key, "get_run", {"run_id": run_id}, lambda b: b["run"]["grading_status"] != "pending"
    )
    assert graded["run"]["grading_status"] in ("completed", "failed")
    if graded["run"]["grading_status"] == "failed":
        assert graded["run"]["grading_error"]


def test_f58_work_interrupted_too_often_ends_failed(tmp_path: Path) -> None:
    """A request and a run that already used every attempt end failed on the next start."""
    with LocalServer(data_dir=tmp_path, job_delay_s=60) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        request_id = t.ok("create_request", request_name="x", request=CONFIG)["request"]["id"]
        run_id = t.ok("create_run", dataset_id=None, result=run_result())["run"]["id"]
    # Simulate three crashes: attempts used up, rows left mid-flight.
    with LocalServer(data_dir=tmp_path, job_workers=1, job_delay_s=60) as srv:
        pass
    from ashr_labs.server._db import Database

    db = Database(tmp_path / "ashr.db")
    with db.transaction():
        db.execute(
            "UPDATE requests SET request_status = 'processing', attempts = 3 WHERE id = ?",
            (request_id,),
        )
        db.execute(
            "UPDATE runs SET grading_status = 'pending', attempts = 3 WHERE id = ?", (run_id,)
        )
    db.close()
    with LocalServer(data_dir=tmp_path) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        req = t.ok("get_request", request_id=request_id)["request"]
        assert req["request_status"] == "failed"
        assert req["error"] == "generation was interrupted 3 times; giving up"
        run = t.ok("get_run", run_id=run_id)["run"]
        assert run["grading_status"] == "failed"
        assert run["grading_error"] == "grading was interrupted 3 times; giving up"


def test_wait_idle_names_what_is_left(tmp_path: Path) -> None:
    """wait_idle raises TimeoutError naming the outstanding work when it does not drain."""
    with LocalServer(data_dir=tmp_path, job_delay_s=30) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        t.ok("create_request", request_name="slow", request=CONFIG)
        with pytest.raises(TimeoutError, match=r"1 request\(s\)"):
            srv.wait_idle(0.3)


def test_job_failing_outside_the_grader_ends_after_max_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work that keeps crashing the worker itself fails after max_job_attempts, not forever."""
    from ashr_labs.server._jobs import JobRunner

    def broken(self: JobRunner, run_id: int) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(JobRunner, "_grade", broken)
    with LocalServer(data_dir=tmp_path, max_job_attempts=2) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        run_id = t.ok("create_run", dataset_id=None, result=run_result())["run"]["id"]
        srv.wait_idle(20)
        run = t.ok("get_run", run_id=run_id)["run"]
        assert run["grading_status"] == "failed"
        assert run["grading_error"] == "grading could not finish in 2 attempts; giving up"


def test_llm_judge_is_used_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ASHR_LABS_LLM_BASE_URL set, grading asks that judge; an unreachable one fails runs."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("ASHR_LABS_LLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    doc = run_result()
    doc["tests"][0]["action_results"] = [
        {
            "actor": "agent",
            "action_type": "text",
            "action_index": 0,
            "expected_response": {"text": "It shipped"},
            "actual_response": {"text": "Shipped"},
            "match_status": "pending",
            "divergence_notes": None,
        },
    ]
    with LocalServer(data_dir=tmp_path) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        run_id = t.ok("create_run", dataset_id=None, result=doc)["run"]["id"]
        srv.wait_idle(30)
        run = t.ok("get_run", run_id=run_id)["run"]
    assert run["grading_status"] == "failed", run
    assert "judge" in run["grading_error"].lower() or "llm" in run["grading_error"].lower(), run


def test_two_servers_on_one_database_run_jobs_in_one_process(tmp_path: Path) -> None:
    """The jobs lock lets one server run jobs; the other takes over once the first stops."""
    first = LocalServer(data_dir=tmp_path).start()
    try:
        with LocalServer(data_dir=tmp_path) as second:
            t2 = Tenant(second.url, second.api_key, second.default_tenant_id, second)
            assert first._jobs is not None and second._jobs is not None
            assert first._jobs._process_lock.held and not second._jobs._process_lock.held
            req = t2.ok("create_request", request_name="via-second", request=CONFIG)["request"]
            first.wait_idle(20)
            assert t2.ok("get_request", request_id=req["id"])["request"]["request_status"] == (
                "completed"
            )
            first.stop()
            again = t2.ok("create_request", request_name="after", request=CONFIG)["request"]
            deadline = time.monotonic() + 20
            while not second._jobs._process_lock.held and time.monotonic() < deadline:
                time.sleep(0.05)
            second.wait_idle(20)
            done = t2.ok("get_request", request_id=again["id"])["request"]
            assert done["request_status"] == "completed"
    finally:
        first.stop()

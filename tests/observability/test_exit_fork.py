"""Process exit, signals and fork, each in a child process with a timeout (F03-F05, F13-F15)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.observability.conftest import CANARY_KEY, communicate_or_kill, exit_after_return
from tests.support.scripted_backend import ScriptedBackend, Step, blackhole, closed_port

ROOT = Path(__file__).resolve().parents[2]
INGEST = "ingest_observability_trace"


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASHR_LABS_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_child(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
    )


def test_f03_short_script_delivers_every_trace_before_exit(local_server: Any, client: Any) -> None:
    """A child ends 200 traces (1,000 spans) and returns; the server holds all 200."""
    session = uuid.uuid4().hex
    started = time.monotonic()
    done = run_child(f"""
        from ashr_labs import AshrLabsClient
        client = AshrLabsClient(api_key={local_server.api_key!r}, base_url={local_server.url!r})
        for i in range(200):
            with client.trace(f"t{{i}}", session_id={session!r}) as t:
                for j in range(4):
                    t.span(f"s{{j}}").end()
    """)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10
    assert "Traceback" not in done.stderr
    listed = client.list_observability_traces(session_id=session, limit=100)
    assert listed["total"] == 200


@pytest.mark.timing
@pytest.mark.parametrize("target", ["blackhole", "closed"])
def test_f04_exit_with_the_backend_down_is_bounded_and_quiet(target: str) -> None:
    """Budget 1 s: exit 0 within slack, one loss line on stderr, no traceback, no new thread."""
    with blackhole() as hole:
        url = hole.url if target == "blackhole" else f"http://127.0.0.1:{closed_port()}"
        code, stderr, elapsed = exit_after_return(
            f"""
            import sys
            from ashr_labs import AshrLabsClient
            client = AshrLabsClient(api_key={CANARY_KEY!r}, base_url={url!r},
                                    flush_timeout_s=1.0, export_timeout_s=0.5)
            for i in range(20):
                client.trace(f"t{{i}}").end()
            print("returning", flush=True)
            """,
            child_env(),
        )
    assert code == 0, stderr
    assert elapsed < 1.0 * 1.5 + 0.5 + 0.5, elapsed  # budget + slack + interpreter teardown
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ashr_labs: 20 trace(s) not delivered at exit ("), stderr
    assert "Traceback" not in stderr and "can't create new thread" not in stderr
    assert CANARY_KEY not in stderr


@pytest.mark.timing
def test_f05_sigint_during_the_exit_flush_abandons_at_once() -> None:
    """SIGINT while the exit flush waits on a blackhole: exit within 2 s, no atexit traceback."""
    with blackhole() as hole:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                import atexit, signal, sys
                # A suite started in the background inherits SIGINT ignored: restore what an
                # interactive program has, so the signal means KeyboardInterrupt here too.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                from ashr_labs import AshrLabsClient
                client = AshrLabsClient(api_key={CANARY_KEY!r}, base_url={hole.url!r},
                                        flush_timeout_s=20, export_timeout_s=20)
                for i in range(5):
                    client.trace(f"t{{i}}").end()
                atexit.register(lambda: print("flushing", flush=True))  # runs just before ours
            """),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "flushing"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, stderr = communicate_or_kill(proc, 10)
        elapsed = time.monotonic() - signalled
    assert elapsed < 2.0, elapsed
    assert "Exception ignored in atexit" not in stderr and "Traceback" not in stderr, stderr
    assert "ashr_labs: 5 trace(s) not delivered at exit (" in stderr, stderr


FORK_CHILD = """
import os, sys, time
from ashr_labs import AshrLabsClient
client = AshrLabsClient(api_key={key!r}, base_url={url!r}, schedule_delay_ms={delay},
                        export_timeout_s=5, flush_timeout_s=5)
for i in range(5):
    client.trace(f"parent{{i}}").end()
{before_fork}
pid = os.fork()
if pid == 0:
    for i in range(5):
        client.trace(f"child{{i}}").end()
    report = client.flush(timeout={child_timeout})
    print("child-report", report["sent"], report["complete"], flush=True)
    os._exit(0)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.02)
else:
    os.kill(pid, 9)
    print("child-hung", flush=True)
print("parent-report", client.flush(timeout=10)["sent"], flush=True)
"""


def test_f13_fork_child_starts_empty_and_sends_only_its_own(backend: ScriptedBackend) -> None:
    """Parent queues 5 and forks; child sends its 5 from a new connection; 10 distinct ids."""
    done = run_child(
        FORK_CHILD.format(
            key=CANARY_KEY, url=backend.url, delay=3000, before_fork="", child_timeout=5
        )
    )
    assert done.returncode == 0, done.stderr
    assert "child-report 5 True" in done.stdout and "parent-report 5" in done.stdout
    bodies = backend.bodies(INGEST)
    ids = [b["trace"]["id"] for b in bodies]
    assert len(ids) == 10 and len(set(ids)) == 10
    names = sorted(b["trace"]["name"] for b in bodies)
    assert names == sorted([f"parent{i}" for i in range(5)] + [f"child{i}" for i in range(5)])
    ports = {
        r.body["trace"]["name"][:5]: r.peer_port for r in backend.requests if r.function == INGEST
    }
    assert ports["child"] != ports["paren"]


def test_f14_fork_while_the_worker_is_inside_an_export(backend: ScriptedBackend) -> None:
    """Backend holds the parent's export; fork; the child ends a trace and flushes, no deadlock."""
    import threading

    release = threading.Event()
    backend.on(INGEST, Step(action="hold", event=release, hold_cap_s=8))
    before_fork = (
        "import time\n"
        "client.flush(timeout=0.5)\n"  # the worker is now inside the held export
    )
    done = None
    try:
        threading.Timer(4.0, release.set).start()
        done = run_child(
            FORK_CHILD.format(
                key=CANARY_KEY,
                url=backend.url,
                delay=20,
                before_fork=before_fork,
                child_timeout=1,
            ),
            timeout=30,
        )
    finally:
        release.set()
    assert done is not None and done.returncode == 0, done and done.stderr
    assert "child-hung" not in done.stdout
    assert "child-report 5 True" in done.stdout


def test_f15_pool_workers_recycled_after_each_task_flush_their_traces(
    backend: ScriptedBackend,
) -> None:
    """Pool(2, maxtasksperchild=1) runs 10 traced tasks; the backend gets 10 traces."""
    done = run_child(
        f"""
        import multiprocessing
        from ashr_labs import AshrLabsClient
        client = AshrLabsClient(api_key={CANARY_KEY!r}, base_url={backend.url!r},
                                schedule_delay_ms=5000, flush_timeout_s=5)

        def task(i):
            with client.trace(f"task{{i}}"):
                pass
            return i

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
                assert pool.map(task, range(10)) == list(range(10))
                pool.close()
                pool.join()
    """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = sorted(b["trace"]["name"] for b in backend.bodies(INGEST))
    assert names == sorted(f"task{i}" for i in range(10))


@pytest.mark.timing
def test_f04_many_clients_share_one_exit_budget() -> None:
    """Three clients against a blackhole, 1 s budget each: the exit takes about 1 s, not 3."""
    with blackhole() as hole:
        code, stderr, elapsed = exit_after_return(
            f"""
            from ashr_labs import AshrLabsClient
            clients = [AshrLabsClient(api_key={CANARY_KEY!r}, base_url={hole.url!r},
                                      flush_timeout_s=1.0, export_timeout_s=5)
                       for _ in range(3)]
            for c in clients:
                for i in range(3):
                    c.trace(f"t{{i}}").end()
            print("returning", flush=True)
            """,
            child_env(),
        )
    assert code == 0, stderr
    assert elapsed < 1.0 * 1.5 + 0.5 + 0.5, elapsed
    assert stderr.count("not delivered at exit") == 1 and "Traceback" not in stderr

"""Concurrent writers on one SQLite file (FAULTS.md F50): WAL, busy timeout, 503 past it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ashr_labs.server import DB_FILENAME, LocalServer
from tests.support.server_rpc import Tenant, post, table_counts

WRITES_PER_THREAD = 100
THREADS = 8

# One process: its own server on the shared data dir, 8 threads creating agents over loopback.
_CHILD = textwrap.dedent(
    """
    import json, sys, threading
    from collections import Counter
    from ashr_labs.server import LocalServer
    from tests.support.server_rpc import post

    data_dir, tag, threads, writes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    statuses = Counter()
    acked = []
    lock = threading.Lock()
    with LocalServer(data_dir=data_dir, rate_per_s=100000, rate_burst=100000) as srv:
        def work(n):
            for i in range(writes):
                name = f"{tag}-{n}-{i}"
                reply = post(srv.url, {"function": "create_agent", "name": name}, key=srv.api_key,
                             timeout=30)
                with lock:
                    statuses[reply.status] += 1
                    if reply.status == 200:
                        acked.append(name)
                    elif reply.status == 503:
                        assert reply.headers.get("retry-after"), reply.headers
        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    print(json.dumps({"statuses": statuses, "acked": acked}))
    """
)


@pytest.mark.slow
def test_f50_two_processes_eight_threads_each(tmp_path: Path) -> None:
    """Only 2xx and 503 are seen, and every acknowledged write is in the database."""
    with LocalServer(data_dir=tmp_path):
        pass  # create the schema and default tenant once, before the race
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASHR_LABS_")}
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(tmp_path),
                tag,
                str(THREADS),
                str(WRITES_PER_THREAD),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        for tag in ("p1", "p2")
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    statuses: dict[str, int] = {}
    acked: list[str] = []
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
        acked.extend(r["acked"])
    assert set(statuses) <= {"200", "503"}, statuses
    assert sum(statuses.values()) == 2 * THREADS * WRITES_PER_THREAD
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        stored = {row[0] for row in conn.execute("SELECT name FROM agents")}
    finally:
        conn.close()
    assert stored == set(acked)


def test_f50_lock_held_past_the_busy_timeout_gives_503(tmp_path: Path) -> None:
    """A writer blocked past busy_timeout gets 503 + Retry-After, stores nothing, then recovers."""
    with LocalServer(data_dir=tmp_path, busy_timeout_ms=150, retry_after_s=2) as srv:
        t = Tenant(srv.url, srv.api_key, srv.default_tenant_id, srv)
        t.ok("keep_alive")
        before = table_counts(srv)
        blocker = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            reply = post(srv.url, {"function": "create_agent", "name": "blocked"}, key=srv.api_key)
            assert reply.status == 503, reply.raw
            assert reply.json == {
                "status": "error",
                "message": "the database is busy; retry shortly",
            }
            assert reply.headers["retry-after"] == "2"
            assert t.ok("list_agents")["agents"] == []  # readers are not blocked under WAL
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert table_counts(srv) == before
        assert t.ok("create_agent", name="after")["agent"]["name"] == "after"

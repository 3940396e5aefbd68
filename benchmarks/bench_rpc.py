"""RPC round trips per second: our client against the published 0.2.1 client, same local server.

Starts one ``LocalServer`` (temporary SQLite database) in this process. Each measurement runs in
its own child process so both clients meet the same conditions:

- ``health_check`` and ``get_run`` round trips, one thread, best of 3 rounds of ``--calls``:
  our client (pooled keep-alive session) and the published 0.2.1 client (``python -S`` with its
  folder on ``PYTHONPATH``; urllib, a new connection per call; the folder comes from
  ``tests/support/published_client``, which installs it into ``build/`` on first use); the ratio
  ours / published;
- server throughput: ``--threads`` threads sharing one of our clients, each doing
  ``create_run`` + ``get_run`` pairs for ``--seconds``.

Run: ``python benchmarks/bench_rpc.py [--calls 500] [--threads 8] [--seconds 5]``.
Not part of ``pytest tests``; numbers depend on the machine (2 shared cores here).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.published_client import published_client_path  # noqa: E402

ROUND_TRIPS = r"""
import json, sys, time
from ashr_labs import AshrLabsClient
cfg = json.loads(sys.argv[1])
client = AshrLabsClient(api_key=cfg["key"], base_url=cfg["url"])
run_id = client.create_run(dataset_id=None, result={"tests": [], "status": "completed"})["id"]
calls = {"health_check": client.health_check, "get_run": lambda: client.get_run(run_id)}
out = dict.fromkeys(calls, 0.0)
for _round in range(3):  # best of 3, interleaved: the machine is shared
    for name, call in calls.items():
        for _ in range(20):
            call()
        start = time.perf_counter()
        for _ in range(cfg["calls"]):
            call()
        out[name] = max(out[name], cfg["calls"] / (time.perf_counter() - start))
print(json.dumps(out))
"""

THROUGHPUT = r"""
import json, sys, threading, time
from ashr_labs import AshrLabsClient
cfg = json.loads(sys.argv[1])
client = AshrLabsClient(api_key=cfg["key"], base_url=cfg["url"])
client.init()
stop = time.monotonic() + cfg["seconds"]
counts, errors = [], []
def work():
    n = 0
    try:
        while time.monotonic() < stop:
            run = client.create_run(None, {"tests": [], "status": "completed"})
            client.get_run(run["id"])
            n += 2
    except Exception as exc:
        errors.append(repr(exc))
    counts.append(n)
threads = [threading.Thread(target=work) for _ in range(cfg["threads"])]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
client.close()
print(json.dumps({"calls_per_s": sum(counts) / elapsed, "errors": errors[:3]}))
"""


def _child(code: str, cfg: dict[str, Any], *, published: Path | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASHR_LABS_", "OTEL_"))}
    argv = [sys.executable, "-c", code, json.dumps(cfg)]
    if published is not None:
        argv.insert(1, "-S")  # no site-packages: our editable install must not shadow 0.2.1
        env["PYTHONPATH"] = str(published)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    from ashr_labs.server import LocalServer

    published: Path | None
    try:
        published = published_client_path()
    except pytest.fail.Exception as exc:  # pip could not fetch it: measure ours alone
        print(f"({exc})")
        published = None
    with tempfile.TemporaryDirectory() as data_dir, LocalServer(data_dir=data_dir) as server:
        cfg = {"key": server.api_key, "url": server.url, "calls": args.calls}
        ours = _child(ROUND_TRIPS, cfg)
        theirs = _child(ROUND_TRIPS, cfg, published=published) if published else None
        print(f"round trips/s over {args.calls} calls (one thread, loopback):")
        for name, rate in ours.items():
            line = f"  {name:<13} ours {rate:8.0f}"
            if theirs:
                line += f"   published 0.2.1 {theirs[name]:8.0f}   ratio {rate / theirs[name]:.2f}x"
            print(line)
        if not theirs:
            print("  (published 0.2.1 unavailable: no ratio)")
        tp = _child(THROUGHPUT, {"key": server.api_key, "url": server.url, **vars(args)})
        print(
            f"server throughput, {args.threads} threads x (create_run + get_run), "
            f"{args.seconds:.0f} s: {tp['calls_per_s']:.0f} calls/s"
            + (f"  errors: {tp['errors']}" if tp["errors"] else "")
        )


if __name__ == "__main__":
    main()

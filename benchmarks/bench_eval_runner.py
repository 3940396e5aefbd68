"""EvalRunner overhead: wall time against the ideal for an agent that only waits.

40 scenarios of 4 actions (user, agent, user, agent), the agent sleeping 20 ms per turn
(two turns per scenario). The ideal wall time at concurrency c is
``ceil(scenarios / c) * turns * 20 ms``; the ratio measured / ideal shows what the runner adds
(threads, deep copies, recording, event loop). Target: <= 1.05x. Each case runs 3 times (the
40-scenario event-loop cases, ~45 ms each, 10 times) and the best is kept. Two same-run baselines
put the ratios in context: the bare pool/loop doing only the sleeps (what any runner pays), and
the runner's CPU per scenario with 0 ms turns (process CPU time, best of 3 after a warm-up: what
the recording itself costs; it is serial on the event loop and under the GIL).
Run: ``python benchmarks/bench_eval_runner.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ashr_labs import EvalRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.published_client import published_client_path  # noqa: E402

SCENARIOS = 40
TURN_S = 0.020
TURNS = 2
REPEATS = 3
QUICK_REPEATS = 10  # for the ~45 ms cases, where one noisy run on shared cores decides a lot


def dataset(count: int) -> dict[str, Any]:
    runs = {}
    for n in range(count):
        runs[f"scenario_{n:03d}"] = {
            "actions": [
                {"actor": "user", "content": f"Where is ORD-{n}?"},
                {
                    "actor": "agent",
                    "content": "It has shipped.",
                    "expected_response": {
                        "tool_calls": [
                            {"name": "lookup_order", "arguments_json": f'{{"order_id": "ORD-{n}"}}'}
                        ]
                    },
                },
                {"actor": "user", "content": "Thanks"},
                {"actor": "agent", "content": "You're welcome."},
            ]
        }
    return {"runs": runs}


def _reply(message: str) -> dict[str, Any]:
    if message.startswith("Where is "):
        order = message.removeprefix("Where is ").rstrip("?")
        return {
            "text": "Your order has shipped.",
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order}}],
        }
    return {"text": "You're welcome.", "tool_calls": []}


class SleepyAgent:
    def reset(self) -> None:
        pass

    def respond(self, message: str) -> dict[str, Any]:
        time.sleep(TURN_S)
        return _reply(message)


class AsyncSleepyAgent:
    async def reset(self) -> None:
        pass

    async def respond(self, message: str) -> dict[str, Any]:
        await asyncio.sleep(TURN_S)
        return _reply(message)


def ideal(scenarios: int, concurrency: int) -> float:
    return math.ceil(scenarios / concurrency) * TURNS * TURN_S


def best_of(run: Any, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        builder = run()
        times.append(time.perf_counter() - began)
        tests = builder.build()["tests"]
        assert all(t["status"] == "completed" for t in tests), "a scenario failed"
    return min(times)


def bare_threads(scenarios: int, workers: int) -> float:
    def scenario() -> None:
        for _ in range(TURNS):
            time.sleep(TURN_S)

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(scenario) for _ in range(scenarios)]:
            future.result()
    return time.perf_counter() - began


def bare_loop(scenarios: int, concurrency: int) -> float:
    async def main() -> None:
        limit = asyncio.Semaphore(concurrency)

        async def scenario() -> None:
            async with limit:
                for _ in range(TURNS):
                    await asyncio.sleep(TURN_S)

        await asyncio.gather(*(scenario() for _ in range(scenarios)))

    began = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - began


def cpu_per_scenario_us(count: int) -> tuple[float, float]:
    """Runner CPU per scenario with instant turns (best of 3): sequential threads, async."""
    global TURN_S
    saved, TURN_S = TURN_S, 0.0
    try:
        runner = EvalRunner(dataset(count))

        def cpu_us(run: Any) -> float:
            run()  # warm-up
            best = math.inf
            for _ in range(REPEATS):
                began = time.process_time()
                run()
                best = min(best, time.process_time() - began)
            return best / count * 1e6

        sync_us = cpu_us(lambda: runner.run(SleepyAgent()))
        async_us = cpu_us(lambda: asyncio.run(runner.arun(AsyncSleepyAgent(), max_concurrency=64)))
    finally:
        TURN_S = saved
    return sync_us, async_us


_PUBLISHED_CHILD = r"""
import json, sys, time
from ashr_labs.eval import EvalRunner

turn_s, workers, repeats = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
source = json.load(sys.stdin)

class SleepyAgent:
    def reset(self):
        pass
    def respond(self, message):
        time.sleep(turn_s)
        if message.startswith("Where is "):
            order = message[len("Where is "):].rstrip("?")
            return {"text": "Your order has shipped.",
                    "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order}}]}
        return {"text": "You're welcome.", "tool_calls": []}

best = None
for _ in range(repeats):
    began = time.perf_counter()
    EvalRunner(source).run(SleepyAgent(), max_workers=workers)
    took = time.perf_counter() - began
    best = took if best is None else min(best, took)
print(best)
"""


def published_seconds(workers: int) -> float | None:
    """The published 0.2.1 EvalRunner on the same dataset, in a child process (same name)."""
    try:
        folder = published_client_path()  # installed into build/ on first use
    except pytest.fail.Exception as exc:  # pip could not fetch it
        print(f"({exc})")
        return None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(folder)
    child = subprocess.run(
        [sys.executable, "-S", "-c", _PUBLISHED_CHILD, str(TURN_S), str(workers), str(REPEATS)],
        input=json.dumps(dataset(SCENARIOS)),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    return float(child.stdout.strip())


def report(label: str, seconds: float, ideal_s: float) -> None:
    ratio = seconds / ideal_s
    flag = "ok" if ratio <= 1.05 else "over target"
    print(
        f"{label:<44} {seconds * 1000:8.1f} ms  ideal {ideal_s * 1000:7.1f} ms  "
        f"ratio {ratio:5.3f}x  ({flag})"
    )


def main() -> None:
    source = dataset(SCENARIOS)
    runner = EvalRunner(source)
    print(f"{SCENARIOS} scenarios x 4 actions, {TURNS} turns of {TURN_S * 1000:.0f} ms each")
    report(
        "sequential (max_workers=1)",
        best_of(lambda: runner.run(SleepyAgent())),
        ideal(SCENARIOS, 1),
    )
    report(
        "threads (max_workers=8, deepcopy)",
        best_of(lambda: runner.run(SleepyAgent(), max_workers=8)),
        ideal(SCENARIOS, 8),
    )
    report(
        "threads (max_workers=8, agent_factory)",
        best_of(lambda: runner.run(None, agent_factory=SleepyAgent, max_workers=8)),
        ideal(SCENARIOS, 8),
    )
    report(
        "async (max_concurrency=64)",
        best_of(
            lambda: asyncio.run(runner.arun(AsyncSleepyAgent(), max_concurrency=64)), QUICK_REPEATS
        ),
        ideal(SCENARIOS, 64),
    )
    many = 640
    big = EvalRunner(dataset(many))
    report(
        f"async, {many} scenarios (max_concurrency=64)",
        best_of(lambda: asyncio.run(big.arun(AsyncSleepyAgent(), max_concurrency=64))),
        ideal(many, 64),
    )
    print("baselines (no runner, same sleeps):")
    report(
        "bare thread pool (8 workers)",
        min(bare_threads(SCENARIOS, 8) for _ in range(REPEATS)),
        ideal(SCENARIOS, 8),
    )
    report(
        "bare event loop (64 at a time)",
        min(bare_loop(SCENARIOS, 64) for _ in range(QUICK_REPEATS)),
        ideal(SCENARIOS, 64),
    )
    report(
        f"bare event loop, {many} scenarios",
        min(bare_loop(many, 64) for _ in range(REPEATS)),
        ideal(many, 64),
    )
    for workers in (1, 8):
        published = published_seconds(workers)
        if published is None:
            print("published ashr-labs 0.2.1 not found; skipping its baseline")
            break
        report(
            f"published 0.2.1 runner (max_workers={workers})", published, ideal(SCENARIOS, workers)
        )
    sync_us, async_us = cpu_per_scenario_us(many)
    print(
        f"runner CPU per scenario with 0 ms turns: {sync_us:.0f} us sync, {async_us:.0f} us async"
    )


if __name__ == "__main__":
    main()

"""Async agents run through ``arun`` on one event loop, and through ``run`` outside a loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from ashr_labs import AsyncAgent, EvalRunner

from ._helpers import TableAgent, agent, call, drop_timestamps, expected_call, source, user

TABLE = {
    "where is ORD-1": {
        "text": "It shipped",
        "tool_calls": [call("lookup_order", order_id="ORD-1")],
    },
    "refund it": {"text": "Refunded", "tool_calls": [call("refund", order_id="ORD-1", why="x")]},
}
SRC = source(
    one=[
        user("where is ORD-1"),
        agent("It has shipped.", expected_call("lookup_order", order_id="ORD-1")),
    ],
    two=[user("refund it"), agent("Done.", expected_call("refund", order_id="ORD-1"))],
    three=[user("hello"), agent("Hi!")],
)


class AsyncTableAgent:
    """The async twin of ``TableAgent``; tracks how many scenarios run at once."""

    active = 0
    peak = 0

    def __init__(self, table: dict[str, Any] | None = None, delay_s: float = 0.0) -> None:
        self.inner = TableAgent(table)
        self.delay_s = delay_s

    async def reset(self) -> None:
        self.inner.reset()

    async def respond(self, message: str) -> dict[str, Any]:
        cls = type(self)
        cls.active += 1
        cls.peak = max(cls.peak, cls.active)
        try:
            await asyncio.sleep(self.delay_s)
            return self.inner.respond(message)
        finally:
            cls.active -= 1


def test_async_agent_through_run_matches_the_sync_agent() -> None:
    """run() drives an async agent on its own loop; the document equals the sync agent's."""
    sync_doc = drop_timestamps(EvalRunner(SRC).run(TableAgent(TABLE)).build())
    async_doc = drop_timestamps(EvalRunner(SRC).run(AsyncTableAgent(TABLE)).build())
    assert async_doc == sync_doc
    assert isinstance(AsyncTableAgent(), AsyncAgent)


def test_arun_limits_concurrency_and_keeps_order() -> None:
    """arun overlaps up to ``max_concurrency`` scenarios and keeps the source order."""
    src = source(**{f"s{n:02d}": [user(f"m{n}"), agent("")] for n in range(12)})
    AsyncTableAgent.peak = 0
    made = []

    def factory() -> AsyncTableAgent:
        made.append(AsyncTableAgent(delay_s=0.05))
        return made[-1]

    began = time.monotonic()
    run = asyncio.run(EvalRunner(src).arun(None, agent_factory=factory, max_concurrency=4))
    elapsed = time.monotonic() - began
    assert [t.test_id for t in run.tests] == [f"s{n:02d}" for n in range(12)]
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    assert AsyncTableAgent.peak == 4
    assert len(made) <= 4
    assert elapsed < 12 * 0.05  # overlapped, not sequential


def test_run_inside_a_running_loop_says_to_use_arun() -> None:
    """Calling run() with an async agent inside a running loop raises a clear RuntimeError."""

    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"await runner\.arun"):
            EvalRunner(SRC).run(AsyncTableAgent(TABLE))

    asyncio.run(main())


def test_sync_agent_in_arun_runs_off_the_loop() -> None:
    """A sync agent's calls run in worker threads, so the loop stays responsive."""
    loop_thread: list[int] = []
    agent_threads: set[int] = set()

    class Recording(TableAgent):
        def respond(self, message: str) -> dict[str, Any]:
            agent_threads.add(threading.get_ident())
            return super().respond(message)

    async def main() -> Any:
        loop_thread.append(threading.get_ident())
        return await EvalRunner(SRC).arun(Recording(TABLE), max_concurrency=1)

    run = asyncio.run(main())
    assert drop_timestamps(run.build()) == drop_timestamps(
        EvalRunner(SRC).run(TableAgent(TABLE)).build()
    )
    assert loop_thread[0] not in agent_threads


def test_async_timeout_cancels_the_scenario() -> None:
    """An async scenario past its timeout is cancelled and recorded as a TimeoutError."""

    class Slow(AsyncTableAgent):
        async def respond(self, message: str) -> dict[str, Any]:
            if message == "hello":
                await asyncio.sleep(30)
            return await super().respond(message)

    began = time.monotonic()
    run = EvalRunner(SRC).run(Slow(TABLE), scenario_timeout_s=0.2)
    assert time.monotonic() - began < 0.2 * 1.5 + 0.5
    statuses = {t["test_id"]: t["status"] for t in run.build()["tests"]}
    assert statuses == {"one": "completed", "two": "completed", "three": "failed"}
    (failed,) = [t for t in run.build()["tests"] if t["status"] == "failed"]
    assert failed["error"]["type"] == "TimeoutError"


def test_async_errors_and_retries() -> None:
    """An async agent raising is retried, then recorded with its attempts."""

    class Failing(AsyncTableAgent):
        async def respond(self, message: str) -> dict[str, Any]:
            raise LookupError("no such order")

    async def main() -> Any:
        return await EvalRunner(source(s=[user("x")])).arun(Failing(), retries=2, max_concurrency=1)

    (test,) = asyncio.run(main()).build()["tests"]
    assert test["error"] == {
        "type": "LookupError",
        "message": "respond raised LookupError: no such order",
        "attempts": 3,
    }


def test_async_callbacks_are_awaited() -> None:
    """In arun, a callback that is a coroutine function is awaited; its result is used."""
    seen: list[Any] = []

    async def on_action(index: int, action: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        seen.append(index)

    async def on_environment(content: str, action: dict[str, Any]) -> dict[str, Any]:
        return {"text": f"env said {content}"}

    src = source(s=[user("a"), {"actor": "environment", "content": "42"}, agent("")])
    run = EvalRunner(src).run(TableAgent(), on_action=on_action, on_environment=on_environment)
    assert seen == [0, 1, 2]
    assert run.build()["tests"][0]["action_results"][-1]["actual_response"] == {
        "text": "env said 42"
    }


def test_arun_deep_copies_per_scenario_without_factory() -> None:
    """Concurrency above 1 without a factory copies the agent; the original stays untouched."""
    original = AsyncTableAgent(TABLE)
    run = asyncio.run(EvalRunner(SRC).arun(original, max_concurrency=3))
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    assert original.inner.messages == []


def test_sync_agent_hanging_under_arun_does_not_hold_up_the_loop() -> None:
    """A sync call past the timeout is abandoned on a daemon thread: arun and asyncio.run
    return at once instead of waiting for the call at loop shutdown."""
    gate = threading.Event()

    class Stuck(TableAgent):
        def respond(self, message: str) -> dict[str, Any]:
            if message == "hello":
                gate.wait(10)
            return super().respond(message)

    began = time.monotonic()
    try:
        run = asyncio.run(
            EvalRunner(SRC).arun(Stuck(TABLE), max_concurrency=1, scenario_timeout_s=0.2)
        )
        elapsed = time.monotonic() - began
    finally:
        gate.set()
    assert elapsed < 0.2 * 1.5 + 0.5
    statuses = [t["status"] for t in run.build()["tests"]]
    assert statuses == ["completed", "completed", "failed"]

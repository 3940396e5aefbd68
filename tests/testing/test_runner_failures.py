"""A failing scenario becomes a failed test with an ``error`` object; the others still run."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from ashr_labs import EvalRunner

from ._helpers import Gate, TableAgent, agent, expected_call, source, user

SRC = source(
    first=[user("ok-1"), agent("fine")],
    bad=[user("boom"), agent("never")],
    last=[user("ok-2"), agent("fine")],
)


class Exploding(TableAgent):
    """Raises on the message ``boom``."""

    def respond(self, message: str) -> dict[str, Any]:
        if message == "boom":
            raise ValueError("agent exploded")
        return super().respond(message)


def _by_id(run: Any) -> dict[str, dict[str, Any]]:
    return {t["test_id"]: t for t in run.build()["tests"]}


@pytest.mark.parametrize("workers", [1, 3])
def test_agent_raising_fails_only_its_own_test(workers: int) -> None:
    """The raising scenario is failed with type, message and attempts; the others complete."""
    run = EvalRunner(SRC).run(Exploding(), max_workers=workers)
    tests = _by_id(run)
    assert [t.test_id for t in run.tests] == ["first", "bad", "last"]
    assert tests["first"]["status"] == tests["last"]["status"] == "completed"
    bad = tests["bad"]
    assert bad["status"] == "failed"
    assert bad["error"] == {
        "type": "ValueError",
        "message": "respond raised ValueError: agent exploded",
        "attempts": 1,
    }
    assert [r["action_type"] for r in bad["action_results"]] == ["text"]  # the user turn
    assert "started_at" in bad and "completed_at" in bad
    metrics = run.build()["aggregate_metrics"]
    assert (metrics["tests_passed"], metrics["tests_failed"]) == (2, 1)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (None, "respond() must return a dict"),
        ({"text": 3}, "respond()['text']"),
        ({"text": "", "tool_calls": "lookup"}, "respond()['tool_calls']"),
        ({"text": "", "tool_calls": [{"arguments": {}}]}, "respond()['tool_calls'][0].name"),
        ({"text": "", "tool_calls": [{"name": "t", "arguments": "{bad"}]}, "not valid JSON"),
    ],
)
def test_invalid_replies_fail_the_test_with_a_clear_message(reply: Any, needle: str) -> None:
    """A reply that is not a turn is an agent error naming what was wrong."""
    src = source(s=[user("x"), agent("y")])
    run = EvalRunner(src).run(TableAgent({"x": reply}))
    (test,) = run.build()["tests"]
    assert test["status"] == "failed"
    assert test["error"]["type"] == "InvalidAgentResponse"
    assert needle in test["error"]["message"]


def test_null_tool_calls_mean_no_tool_calls() -> None:
    """``tool_calls: None`` is read as no calls (the published client failed the turn)."""
    src = source(s=[user("x"), agent("y", expected_call("t"))])
    run = EvalRunner(src).run(TableAgent({"x": {"text": "hi", "tool_calls": None}}))
    (test,) = run.build()["tests"]
    assert test["status"] == "completed"
    assert test["action_results"][1]["tool_calls"][0]["actual"]["name"] == "NOT_CALLED"


class Hanging(TableAgent):
    """Blocks on ``hang`` until the gate opens."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    def respond(self, message: str) -> dict[str, Any]:
        if message == "hang":
            self.gate.wait()
        return super().respond(message)

    def __deepcopy__(self, memo: dict[int, Any]) -> Hanging:
        return Hanging(self.gate)  # the gate is shared on purpose


@pytest.mark.parametrize("workers", [1, 2])
def test_hanging_agent_times_out_and_the_rest_completes(
    workers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Past ``scenario_timeout_s`` the test fails with TimeoutError, keeping what was recorded."""
    gate = Gate()
    src = source(a=[user("ok")], b=[user("pre"), user("hang"), agent("x")], c=[user("ok")])
    try:
        began = time.monotonic()
        run = EvalRunner(src).run(Hanging(gate), scenario_timeout_s=0.3, max_workers=workers)
        elapsed = time.monotonic() - began
    finally:
        gate.release()
    tests = _by_id(run)
    assert tests["a"]["status"] == tests["c"]["status"] == "completed"
    assert tests["b"]["status"] == "failed"
    assert tests["b"]["error"]["type"] == "TimeoutError"
    assert "scenario_timeout_s=0.3" in tests["b"]["error"]["message"]
    assert [r["text"] for r in tests["b"]["action_results"]] == ["pre", "hang"]
    assert elapsed < 0.3 * 1.5 + 0.5 + 0.5
    if workers == 1:
        assert "shared agent" in caplog.text  # the only agent may still be busy


def test_deepcopy_failure_is_recorded_on_each_test() -> None:
    """An agent holding a lock cannot be deep-copied: every test records why, not silently."""

    class Locked(TableAgent):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()

    run = EvalRunner(SRC).run(Locked(), max_workers=4)
    for test in run.build()["tests"]:
        assert test["status"] == "failed" and test["action_results"] == []
        assert test["error"]["type"] == "TypeError"
        assert "deep-copy" in test["error"]["message"]
        assert "agent_factory" in test["error"]["message"]
        assert test["error"]["attempts"] == 1


def test_agent_factory_builds_one_agent_per_worker_and_never_copies() -> None:
    """With a factory, uncopyable agents work and at most max_workers agents exist."""
    made: list[Any] = []

    class Locked(TableAgent):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()
            made.append(self)

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            raise AssertionError("must not be copied")

    src = source(**{f"s{n}": [user(f"m{n}")] for n in range(12)})
    run = EvalRunner(src).run(None, agent_factory=Locked, max_workers=3)
    assert all(t["status"] == "completed" for t in run.build()["tests"])
    assert 1 <= len(made) <= 3
    assert sum(len(a.messages) for a in made) == 12


def test_agent_factory_replaces_an_agent_after_a_timeout() -> None:
    """An agent abandoned by a timeout is not handed to the next scenario."""
    gate = Gate()
    made: list[Hanging] = []

    def factory() -> Hanging:
        made.append(Hanging(gate))
        return made[-1]

    src = source(a=[user("hang")], b=[user("ok")])
    try:
        run = EvalRunner(src).run(None, agent_factory=factory, scenario_timeout_s=0.2)
    finally:
        gate.release()
    assert [t["status"] for t in run.build()["tests"]] == ["failed", "completed"]
    assert len(made) == 2 and made[1].messages == ["ok"]


def test_factory_failure_is_recorded_on_each_test() -> None:
    """A factory that raises fails each test with its error."""

    def factory() -> Any:
        raise RuntimeError("no credentials")

    run = EvalRunner(SRC).run(None, agent_factory=factory, max_workers=2)
    for test in run.build()["tests"]:
        assert test["status"] == "failed"
        assert test["error"]["message"] == "agent_factory raised RuntimeError: no credentials"


@pytest.mark.parametrize("hook", ["on_scenario", "on_action", "on_environment"])
def test_callback_raising_is_recorded_and_not_retried(hook: str) -> None:
    """A raising callback fails that scenario only, once, even with retries."""
    calls: list[str] = []

    def bad(*args: Any) -> None:
        calls.append("x")
        if args[0] in ("bad", 1, "env"):
            raise KeyError("callback bug")

    src = source(good=[user("a")], bad=[user("b"), {"actor": "environment", "content": "env"}])
    hooks: dict[str, Any] = {hook: bad}
    run = EvalRunner(src).run(TableAgent(), retries=2, **hooks)
    tests = _by_id(run)
    assert tests["good"]["status"] == "completed"
    assert tests["bad"]["status"] == "failed"
    assert tests["bad"]["error"]["message"].startswith(f"{hook} raised KeyError")
    assert tests["bad"]["error"]["attempts"] == 1


def test_retries_rerun_the_scenario_from_reset() -> None:
    """An agent error reruns the scenario; success on a later attempt completes the test."""

    class Flaky(TableAgent):
        failures = 2

        def respond(self, message: str) -> dict[str, Any]:
            if message == "flaky" and Flaky.failures:
                Flaky.failures -= 1
                raise ConnectionError("transient")
            return super().respond(message)

    src = source(s=[user("flaky"), agent("x")])
    bot = Flaky()
    run = EvalRunner(src).run(bot, retries=2)
    (test,) = run.build()["tests"]
    assert test["status"] == "completed" and "error" not in test
    assert bot.resets == 3
    assert [r["action_index"] for r in test["action_results"]] == [0, 1]

    Flaky.failures = 5
    run = EvalRunner(src).run(Flaky(), retries=1)
    (test,) = run.build()["tests"]
    assert test["status"] == "failed"
    assert test["error"] == {
        "type": "ConnectionError",
        "message": "respond raised ConnectionError: transient",
        "attempts": 2,
    }


def test_reset_raising_is_an_agent_error() -> None:
    """reset() raising fails the test as started and completed, with no action results."""

    class BadReset(TableAgent):
        def reset(self) -> None:
            raise RuntimeError("cannot reset")

    (test,) = EvalRunner(source(s=[user("x")])).run(BadReset()).build()["tests"]
    assert test["status"] == "failed" and test["action_results"] == []
    assert test["error"]["message"] == "reset raised RuntimeError: cannot reset"
    assert "started_at" in test and "completed_at" in test


@pytest.mark.parametrize("workers", [1, 2])
def test_keyboard_interrupt_propagates(workers: int) -> None:
    """KeyboardInterrupt from the agent stops the run instead of being recorded."""

    class Interrupting(TableAgent):
        def respond(self, message: str) -> dict[str, Any]:
            raise KeyboardInterrupt

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            return Interrupting()

    with pytest.raises(KeyboardInterrupt):
        EvalRunner(SRC).run(Interrupting(), max_workers=workers)


def test_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Each failed scenario is logged once as a warning naming it."""
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        EvalRunner(SRC).run(Exploding())
    records = [r for r in caplog.records if "eval scenario" in r.getMessage()]
    assert len(records) == 1 and "'bad'" in records[0].getMessage()


def test_parallel_copies_do_not_share_state() -> None:
    """With max_workers > 1 each scenario gets its own deep copy; the original is untouched."""
    original = TableAgent()
    src = source(**{f"s{n}": [user(f"m{n}")] for n in range(6)})
    EvalRunner(src).run(original, max_workers=3)
    assert original.messages == [] and original.resets == 0

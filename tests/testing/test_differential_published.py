"""Our RunBuilder and EvalRunner (greedy pairing) build the same documents as the published
ashr-labs 0.2.1 on the same inputs, timestamps aside.

The published package has our import name, so it runs in one child process (``python -S`` with
its folder on ``PYTHONPATH``) fed the whole corpus as JSON on stdin.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings
from typing import Any

from ashr_labs import EvalRunner, RunBuilder
from tests.support.published_client import published_client_path

from ._helpers import drop_timestamps

NAMES = ["lookup_order", "refund", "search", "notify"]
ACTORS = ["user", "user", "customer", "agent", "agent", "agent", "environment", None]

_CHILD = r"""
import copy, json, sys, warnings
warnings.simplefilter("ignore")
from ashr_labs.eval import EvalRunner
from ashr_labs.run_builder import RunBuilder

class TableAgent:
    def __init__(self, table):
        self.table = table
    def reset(self):
        pass
    def respond(self, message):
        return copy.deepcopy(self.table[message])
    def __deepcopy__(self, memo):
        return TableAgent(self.table)  # the table is read-only; copying it is only slow

job = json.load(sys.stdin)
out = {"runs": []}
for workers in job["workers"]:
    env = job["environment"]
    run = EvalRunner(job["dataset"]).run(
        TableAgent(job["replies"]), max_workers=workers,
        on_environment=lambda content, action: copy.deepcopy(env[content]),
    )
    out["runs"].append(run.build())
out["builders"] = []
for script in job["scripts"]:
    run = RunBuilder()
    tests = {}
    for step in script:
        if step["call"] in ("start", "complete") and step.get("test") is None:
            getattr(run, step["call"])(**step["kwargs"])
        elif step["call"] == "add_test":
            tests[step["test"]] = run.add_test(step["test"])
        else:
            getattr(tests[step["test"]], step["call"])(**step["kwargs"])
    out["builders"].append(run.build())
json.dump(out, sys.stdout)
"""


def _args(rng: random.Random, narrow: bool = False) -> dict[str, Any]:
    if narrow:  # few distinct calls, so same-name calls often agree exactly
        return {"order_id": rng.choice(["ORD-1", "ORD-2"])}
    keys = rng.sample(["order_id", "reason", "q", "n"], rng.randint(0, 3))
    values: list[Any] = ["ORD-1", "ORD-2", "damaged", 1, 1.0, 2, True, None, [1, 2], {"x": 1}]
    return {k: rng.choice(values) for k in keys}


def _corpus(seed: int, scenarios: int, narrow: bool = False) -> dict[str, Any]:
    """Random scenarios over a small vocabulary, so names collide and pairing is exercised."""
    rng = random.Random(seed)

    def _args_here(rng: random.Random) -> dict[str, Any]:
        return _args(rng, narrow)

    def _calls_here(rng: random.Random) -> list[dict[str, Any]]:
        count = rng.randint(0, 3)
        return [{"name": rng.choice(NAMES), "arguments": _args_here(rng)} for _ in range(count)]

    runs: dict[str, Any] = {}
    replies: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    for s in range(scenarios):
        actions = []
        for a in range(rng.randint(0, 7)):
            actor = rng.choice(ACTORS)
            action: dict[str, Any] = {} if actor is None else {"actor": actor}
            if actor == "agent":
                if rng.random() < 0.7:
                    action["content"] = rng.choice(["", "It shipped.", "Refund issued."])
                if rng.random() < 0.8:
                    calls = [
                        {"name": rng.choice(NAMES), "arguments_json": json.dumps(_args_here(rng))}
                        for _ in range(rng.randint(0, 3))
                    ]
                    action["expected_response"] = {"tool_calls": calls, "text": "ignored"}
            elif actor == "environment":
                content = f"env-{s}-{a}"
                action["content"] = content
                environment[content] = rng.choice(
                    [
                        None,
                        {},
                        {"text": "tool says hi"},
                        {"tool_calls": None},
                        {"text": "", "tool_calls": _calls_here(rng)},
                    ]
                )
            else:
                message = f"msg-{s}-{a}"
                action["content"] = message
                if rng.random() < 0.5:
                    action["name"] = f"step {a}"
                replies[message] = {
                    "text": rng.choice(["", "Your order shipped", "Refunded"]),
                    "tool_calls": _calls_here(rng),
                }
            actions.append(action)
        runs[f"scenario_{s:03d}"] = {"title": f"t{s}", "actions": actions}
    return {"dataset": {"runs": runs}, "replies": replies, "environment": environment}


def _builder_script() -> list[dict[str, Any]]:
    """Builder calls covering normalisation, index rules, merging, VM streams and metrics."""
    cmp_: dict[str, dict[str, Any]] = {"matching": {}, "different": {}, "missing": {}, "extra": {}}
    steps: list[dict[str, Any]] = [{"call": "start", "kwargs": {}}]

    def on(test: str, call: str, **kwargs: Any) -> None:
        steps.append({"test": test, "call": call, "kwargs": kwargs})

    for test in ("t1", "t2", "t3"):
        steps.append({"test": test, "call": "add_test", "kwargs": {}})
        on(test, "start")
    on("t1", "add_user_text", text="hi", description="d")
    on("t1", "add_user_file", file_path="datasets/a.pdf", description="f", action_index=4)
    on(
        "t1",
        "add_tool_call",
        expected={"name": "a", "arguments_json": '{"k": 1}'},
        actual={"tool_name": "a", "arguments": {"k": "é"}},
        match_status="partial",
        argument_comparison=cmp_,
    )
    on(
        "t1",
        "add_tool_call",
        expected={"tool_name": "b", "arguments": "raw"},
        actual={"name": "b", "arguments_json": "nope"},
        match_status="mismatch",
        divergence_notes="why",
        argument_comparison=cmp_,
        action_index=5,
    )
    on(
        "t1",
        "add_tool_call",
        expected={"name": "c", "arguments_json": {"x": 1}},
        actual={"name": "c"},
        match_status="exact",
        argument_comparison=cmp_,
        action_index=5,
    )
    on(
        "t1",
        "add_agent_response",
        expected_response={"text": "a"},
        actual_response={"text": "b"},
        match_status="similar",
        semantic_similarity=0.555,
        action_index=5,
    )
    on(
        "t2",
        "add_agent_response",
        expected_response={"summary": "x"},
        actual_response={"summary": "y"},
        match_status="divergent",
        semantic_similarity=1,
    )
    on(
        "t2",
        "add_agent_response",
        expected_response={},
        actual_response={},
        match_status="exact",
        semantic_similarity=0.1,
        divergence_notes="n",
    )
    on(
        "t2",
        "set_vm_stream",
        provider="browserbase",
        session_id="s",
        duration_ms=10,
        logs=[{"ts": 0, "type": "navigation", "data": {"url": "https://example.com"}}],
    )
    on(
        "t3",
        "set_kernel_vm",
        session_id="k1",
        replay_id="r",
        stealth=False,
        viewport={"width": 1, "height": 2},
    )
    on("t3", "set_kernel_vm", session_id="k2", duration_ms=5)
    on("t1", "complete")
    on("t2", "complete", status="failed")
    steps.append({"call": "complete", "kwargs": {}})
    return steps


def _random_script(rng: random.Random) -> list[dict[str, Any]]:
    """A random but valid sequence of builder calls (indices repeat, statuses vary)."""
    steps: list[dict[str, Any]] = []
    if rng.random() < 0.8:
        steps.append({"call": "start", "kwargs": {}})
    ids = [f"t{n}" for n in range(rng.randint(0, 4))]
    for test in ids:
        steps.append({"test": test, "call": "add_test", "kwargs": {}})
        if rng.random() < 0.8:
            steps.append({"test": test, "call": "start", "kwargs": {}})
    for _ in range(rng.randint(0, 25) if ids else 0):
        test = rng.choice(ids)
        index: dict[str, Any] = {}
        if rng.random() < 0.5:
            index = {"action_index": rng.randint(0, 4)}
        kind = rng.randrange(4)
        if kind == 0:
            kwargs = {"text": rng.choice(["hi", ""]), "description": "d", **index}
            steps.append({"test": test, "call": "add_user_text", "kwargs": kwargs})
        elif kind == 1:
            call = {"name": rng.choice(NAMES), "arguments": _args(rng)}
            other = {"name": rng.choice(NAMES), "arguments_json": json.dumps(_args(rng))}
            kwargs = {
                "expected": other,
                "actual": call,
                "match_status": rng.choice(["exact", "partial", "mismatch"]),
                "argument_comparison": {
                    "matching": {},
                    "different": {},
                    "missing": {},
                    "extra": {},
                },
                **index,
            }
            steps.append({"test": test, "call": "add_tool_call", "kwargs": kwargs})
        elif kind == 2:
            kwargs = {
                "expected_response": {"text": "e"},
                "actual_response": {"text": rng.choice(["a", ""])},
                "match_status": rng.choice(["exact", "similar", "divergent", "pending"]),
                **index,
            }
            if rng.random() < 0.6:
                kwargs["semantic_similarity"] = rng.choice([0.0, 0.125, 0.335, 0.5, 0.555, 1])
            steps.append({"test": test, "call": "add_agent_response", "kwargs": kwargs})
        else:
            steps.append({"test": test, "call": "set_vm_stream", "kwargs": {"provider": "p"}})
    for test in ids:
        if rng.random() < 0.8:
            status = rng.choice(["completed", "completed", "failed", "stopped"])
            steps.append({"test": test, "call": "complete", "kwargs": {"status": status}})
    if rng.random() < 0.8:
        steps.append({"call": "complete", "kwargs": {}})
    return steps


def _our_builder(script: list[dict[str, Any]]) -> dict[str, Any]:
    run = RunBuilder()
    tests: dict[str, Any] = {}
    for step in script:
        if step["call"] in ("start", "complete") and step.get("test") is None:
            getattr(run, step["call"])(**step["kwargs"])
        elif step["call"] == "add_test":
            tests[step["test"]] = run.add_test(step["test"])
        else:
            getattr(tests[step["test"]], step["call"])(**step["kwargs"])
    return run.build()


class TableAgent:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    def reset(self) -> None:
        pass

    def respond(self, message: str) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(json.dumps(self.table[message]))
        return reply

    def __deepcopy__(self, memo: dict[int, Any]) -> TableAgent:
        return TableAgent(self.table)  # the table is read-only; copying it is only slow


def test_runner_and_builder_match_the_published_package() -> None:
    """Over 300 random scenarios (sequential and 4 workers) and 301 builder scripts (one
    hand-written, the rest random), the documents equal the published package's once
    timestamps are dropped."""
    folder = published_client_path()  # skips the test when the package cannot be had
    job = _corpus(seed=7, scenarios=300)
    job["workers"] = [1, 4]
    rng = random.Random(3)
    job["scripts"] = [_builder_script()] + [_random_script(rng) for _ in range(300)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(folder)
    child = subprocess.run(
        [sys.executable, "-S", "-c", _CHILD],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    theirs = json.loads(child.stdout)
    environment = job["environment"]

    def on_environment(content: str, action: dict[str, Any]) -> Any:
        return json.loads(json.dumps(environment[content]))

    produced = 0
    for workers, their_doc in zip(job["workers"], theirs["runs"], strict=True):
        run = EvalRunner(job["dataset"]).run(
            TableAgent(job["replies"]),
            max_workers=workers,
            pairing="greedy",
            on_environment=on_environment,
        )
        ours = json.loads(json.dumps(drop_timestamps(run.build())))
        assert ours == drop_timestamps(their_doc)
        produced = len(ours["tests"])
    assert produced > 200  # most scenarios had actions, so the comparison was not vacuous
    assert len(theirs["builders"]) == len(job["scripts"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for script, their_doc in zip(job["scripts"], theirs["builders"], strict=True):
            ours_builder = json.loads(json.dumps(drop_timestamps(_our_builder(script))))
            assert ours_builder == drop_timestamps(their_doc), script


def test_optimal_pairing_only_changes_who_pairs_with_whom() -> None:
    """With optimal pairing each agent action holds the same expected calls and the same actual
    tool names as with greedy pairing, and more pairs come out exact overall."""
    job = _corpus(seed=11, scenarios=150, narrow=True)

    def summary(pairing: str) -> tuple[dict[tuple[str, int], Any], int]:
        run = EvalRunner(job["dataset"]).run(TableAgent(job["replies"]), pairing=pairing)
        out: dict[tuple[str, int], Any] = {}
        exact = 0
        for test in run.build()["tests"]:
            for result in test["action_results"]:
                if result["action_type"] != "tool_call":
                    continue
                calls = result["tool_calls"]
                exact += sum(c["match_status"] == "exact" for c in calls)
                out[(test["test_id"], result["action_index"])] = (
                    sorted(json.dumps(c["expected"], sort_keys=True) for c in calls),
                    sorted(c["actual"]["name"] for c in calls),
                )
        return out, exact

    (greedy, greedy_exact), (optimal, optimal_exact) = summary("greedy"), summary("optimal")
    assert len(greedy) > 20
    assert greedy == optimal
    assert optimal_exact > greedy_exact

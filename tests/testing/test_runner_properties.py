"""Properties of EvalRunner over generated datasets and misbehaving agents (Hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ashr_labs import EvalRunner
from tests.support import hypothesis_profile  # noqa: F401 - loads the "ci" profile

NAMES = ["a", "b", "c"]

args = st.dictionaries(st.sampled_from(["k", "n"]), st.sampled_from([1, 2, "x"]), max_size=2)
expected_calls = st.lists(
    st.builds(
        lambda n, a: {"name": n, "arguments_json": json.dumps(a)}, st.sampled_from(NAMES), args
    ),
    max_size=3,
)
agent_calls = st.lists(
    st.builds(lambda n, a: {"name": n, "arguments": a}, st.sampled_from(NAMES), args), max_size=3
)
action = st.one_of(
    st.builds(lambda c: {"actor": "user", "content": c}, st.sampled_from(["m1", "m2", "boom"])),
    st.builds(
        lambda c, calls: {
            "actor": "agent",
            "content": c,
            "expected_response": {"tool_calls": calls},
        },
        st.sampled_from(["", "done"]),
        expected_calls,
    ),
    st.just({"actor": "environment", "content": "env"}),
)
datasets = st.dictionaries(
    st.sampled_from([f"s{n}" for n in range(6)]),
    st.builds(lambda acts: {"actions": acts}, st.lists(action, max_size=6)),
    max_size=6,
)
replies = st.one_of(
    st.builds(
        lambda t, calls: {"text": t, "tool_calls": calls}, st.sampled_from(["", "ok"]), agent_calls
    ),
    st.just(None),
    st.just({"text": "", "tool_calls": [{"arguments": {}}]}),
    st.just("raise"),
)


class ScriptedAgent:
    """Answers each message from a table; ``"raise"`` raises, anything else is returned."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    def reset(self) -> None:
        pass

    def respond(self, message: str) -> Any:
        reply = self.table.get(message)
        if reply == "raise":
            raise RuntimeError(f"agent failed on {message}")
        return json.loads(json.dumps(reply))

    def __deepcopy__(self, memo: dict[int, Any]) -> ScriptedAgent:
        return ScriptedAgent(self.table)


@given(
    runs=datasets,
    table=st.fixed_dictionaries({"m1": replies, "m2": replies, "boom": replies}),
    workers=st.sampled_from([1, 3]),
    pairing=st.sampled_from(["optimal", "greedy"]),
)
def test_every_scenario_yields_one_well_formed_test(
    runs: dict[str, Any], table: dict[str, Any], workers: int, pairing: str
) -> None:
    """Whatever the agent does, each scenario with actions gives one test, in source order,
    completed or failed-with-error, and the document is JSON; agent actions account for
    every expected call."""
    source = {"runs": runs}
    run = EvalRunner(source).run(
        ScriptedAgent(table), max_workers=workers, pairing=pairing, retries=1
    )
    doc = json.loads(json.dumps(run.build()))
    expected_ids = [sid for sid, sc in runs.items() if sc["actions"]]
    assert [t["test_id"] for t in doc["tests"]] == expected_ids
    for test in doc["tests"]:
        assert test["status"] in ("completed", "failed")
        assert ("error" in test) == (test["status"] == "failed")
        if test["status"] == "failed":
            assert test["error"]["attempts"] == 2  # agent errors are retried once
            continue
        actions = runs[test["test_id"]]["actions"]
        for result in test["action_results"]:
            if result["action_type"] != "tool_call":
                continue
            wanted = actions[result["action_index"]]["expected_response"]["tool_calls"]
            named = [c for c in result["tool_calls"] if c["expected"]["name"] != "NONE_EXPECTED"]
            assert len(named) == len(wanted)
            for entry in result["tool_calls"]:
                assert entry["match_status"] in ("exact", "partial", "mismatch")
                assert set(entry["argument_comparison"]) == {
                    "matching",
                    "different",
                    "missing",
                    "extra",
                }
    metrics = doc["aggregate_metrics"]
    assert metrics["total_tests"] == len(expected_ids)
    assert metrics["tests_passed"] + metrics["tests_failed"] == len(expected_ids)

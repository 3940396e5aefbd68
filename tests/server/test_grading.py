"""The run grader: strictness, text thresholds, aggregate metrics, the protocol §5 example."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401  (registers and loads the "ci" profile)
from ashr_labs._matching import compare_args_structural, text_similarity
from ashr_labs.server._generation import generate_dataset_source
from ashr_labs.server._grading import GradingError, aggregate_metrics, grade_run
from ashr_labs.testing import EvalRunner
from tests.support.configs import LOOKUP_ORDER_TOOL


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "tool_name": name, "arguments": args, "arguments_json": json.dumps(args)}


def _tool_entry(
    expected: dict[str, Any], actual: dict[str, Any], *, comparison: bool = True
) -> dict[str, Any]:
    status, comp = compare_args_structural(expected, actual)
    entry: dict[str, Any] = {
        "expected": expected,
        "actual": actual,
        "match_status": status,
        "divergence_notes": None,
    }
    if comparison:
        entry["argument_comparison"] = comp
    return entry


def _text(index: int, expected: str, actual: str, status: str = "pending") -> dict[str, Any]:
    return {
        "actor": "agent",
        "action_type": "text",
        "action_index": index,
        "expected_response": {"text": expected},
        "actual_response": {"text": actual},
        "match_status": status,
        "divergence_notes": None,
    }


def _test(
    *actions: dict[str, Any], status: str = "completed", test_id: str = "t1"
) -> dict[str, Any]:
    return {"test_id": test_id, "status": status, "action_results": list(actions)}


def _tools(index: int, *entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor": "agent",
        "action_type": "tool_call",
        "action_index": index,
        "tool_calls": list(entries),
    }


def _run(*tests: dict[str, Any]) -> dict[str, Any]:
    return {
        "tests": list(tests),
        "status": "completed",
        "started_at": None,
        "completed_at": None,
        "aggregate_metrics": aggregate_metrics(list(tests)),
    }


NOT_CALLED = {"name": "NOT_CALLED", "arguments_json": "{}"}
WORKED_DATASET = {
    "runs": {
        "s1": {
            "title": "worked example",
            "actions": [
                {"actor": "user", "content": "Where is ORD-1?"},
                {
                    "actor": "agent",
                    "content": "It shipped.",
                    "expected_response": {
                        "tool_calls": [
                            {"name": "lookup_order", "arguments_json": '{"order_id": "ORD-1"}'},
                            {"name": "refund", "arguments_json": '{"order_id": "ORD-1"}'},
                        ]
                    },
                },
            ],
        }
    }
}


class WorkedAgent:
    """The protocol §5 worked-example agent."""

    def respond(self, message: str) -> dict[str, Any]:
        return {
            "text": "Your order shipped",
            "tool_calls": [
                {"name": "lookup_order", "arguments": {"order_id": "ORD-1", "verbose": True}},
                {"name": "extra_tool", "arguments": {"q": 1}},
            ],
        }

    def reset(self) -> None:
        pass


def test_protocol_worked_example_is_graded_as_documented() -> None:
    """EvalRunner's real document for §5's example: refund NOT_CALLED (required by default)
    fails the test; the partial lookup and the extra call are warnings; the text is similar."""
    result = EvalRunner(WORKED_DATASET).run(WorkedAgent()).build()
    before = copy.deepcopy(result)
    graded = grade_run(result, agent_config=None)
    assert result == before  # the input is not modified
    test = graded["tests"][0]
    entries = [
        e
        for a in test["action_results"]
        if a["action_type"] == "tool_call"
        for e in a["tool_calls"]
    ]
    assert [e["match_status"] for e in entries] == ["partial", "mismatch", "mismatch"]
    text = next(
        a for a in test["action_results"] if a["action_type"] == "text" and a["actor"] == "agent"
    )
    assert text["semantic_similarity"] == text_similarity("It shipped.", "Your order shipped")
    assert text["semantic_similarity"] == 0.51
    assert text["match_status"] == "similar"
    assert test["status"] == "failed"
    assert test["grading"]["passed"] is False
    assert test["grading"]["reasons"] == ["action 1: required tool refund was not called"]
    assert len(test["grading"]["warnings"]) == 2
    assert graded["aggregate_metrics"] == {
        "total_tests": 1,
        "tests_passed": 0,
        "tests_failed": 1,
        "total_tool_call_divergence": 3,
        "total_response_divergence": 1,
        "average_similarity_score": 0.51,
    }


@pytest.mark.parametrize(
    ("level", "status", "passed"),
    [
        ("required", "failed", False),
        ("expected", "completed", True),
        ("optional", "completed", True),
    ],
)
def test_strictness_levels_for_a_tool_not_called(level: str, status: str, passed: bool) -> None:
    """required fails the test; expected warns; optional recovers through matching text."""
    result = _run(
        _test(
            _tools(1, _tool_entry(_call("end_session"), NOT_CALLED)),
            _text(1, "Goodbye, have a great day", "Goodbye and have a great day"),
        )
    )
    config = {"grading_config": {"tool_strictness": {"end_session": level}}}
    graded = grade_run(result, agent_config=config)
    test = graded["tests"][0]
    entry = test["action_results"][0]["tool_calls"][0]
    assert test["status"] == status and test["grading"]["passed"] is passed
    if level == "optional":
        assert entry["match_status"] == "partial"
        assert entry["divergence_notes"].startswith("recovered")
        assert graded["aggregate_metrics"]["total_tool_call_divergence"] == 1
    else:
        assert entry["match_status"] == "mismatch"
        where = "warnings" if passed else "reasons"
        assert test["grading"][where] == [f"action 1: {level} tool end_session was not called"]


def test_optional_tool_without_matching_text_is_only_a_warning() -> None:
    """An optional tool not called whose text does not reach the intent stays a mismatch and
    only warns; the divergent text is what fails the test. No expected text grades exact."""
    result = _run(
        _test(
            _tools(1, _tool_entry(_call("end_session"), NOT_CALLED)),
            _text(1, "Session closed", "unrelated words"),
            _text(2, "", "whatever"),
        )
    )
    config = {"grading_config": {"tool_strictness": {"end_session": "optional"}}}
    test = grade_run(result, agent_config=config)["tests"][0]
    assert test["action_results"][0]["tool_calls"][0]["match_status"] == "mismatch"
    assert test["grading"]["warnings"] == ["action 1: optional tool end_session was not called"]
    assert test["grading"]["reasons"] == ["action 1: response divergent (similarity 0.0 < 0.5)"]
    assert test["status"] == "failed"
    assert test["action_results"][2]["match_status"] == "exact"
    assert "semantic_similarity" not in test["action_results"][2]


def test_tool_definitions_give_default_strictness() -> None:
    """A tool_definitions entry with required: false makes NOT_CALLED a warning."""
    result = _run(_test(_tools(0, _tool_entry(_call("fetch"), NOT_CALLED))))
    graded = grade_run(
        result, agent_config={"tool_definitions": [{"name": "fetch", "required": False}]}
    )
    assert graded["tests"][0]["status"] == "completed"
    graded = grade_run(
        result, agent_config={"tool_definitions": [{"name": "fetch", "required": True}]}
    )
    assert graded["tests"][0]["status"] == "failed"


def test_unexpected_calls_warn_unless_forbidden() -> None:
    """NONE_EXPECTED calls are warnings; a tool marked forbidden fails the test."""
    extra = _tool_entry({"name": "NONE_EXPECTED", "arguments_json": "{}"}, _call("delete_all"))
    result = _run(_test(_tools(0, extra)))
    graded = grade_run(result, agent_config=None)
    assert graded["tests"][0]["status"] == "completed"
    assert graded["tests"][0]["grading"]["warnings"] == ["action 0: unexpected call of delete_all"]
    graded = grade_run(
        result, agent_config={"grading_config": {"tool_strictness": {"delete_all": "forbidden"}}}
    )
    assert graded["tests"][0]["status"] == "failed"


def test_argument_comparison_is_recomputed_when_missing() -> None:
    """A call submitted without argument_comparison is compared structurally and stored."""
    entry = _tool_entry(_call("t", a=1, b=2), _call("t", a=1, b=3), comparison=False)
    entry["match_status"] = "exact"  # a client's wrong claim is not trusted
    graded = grade_run(_run(_test(_tools(0, entry))), agent_config=None)
    graded_entry = graded["tests"][0]["action_results"][0]["tool_calls"][0]
    assert graded_entry["match_status"] == "partial"
    assert graded_entry["argument_comparison"]["different"] == {"b": {"expected": 2, "actual": 3}}
    assert graded["tests"][0]["status"] == "completed"
    name_mismatch = _tool_entry(_call("a"), _call("b"))
    graded = grade_run(_run(_test(_tools(0, name_mismatch))), agent_config=None)
    assert graded["tests"][0]["status"] == "failed"


@pytest.mark.parametrize(
    ("expected", "actual", "threshold", "status", "failed"),
    [
        ("Hello world", "hello WORLD!!", 0.5, "exact", False),
        ("It shipped.", "Your order shipped", 0.5, "similar", False),
        ("It shipped.", "Your order shipped", 0.6, "divergent", True),
        ("The item is in stock", "It is available at the store", 0.3, "similar", False),
        ("Refund issued", "", 0.5, "missed", True),
        ("Refund issued", "   ", 0.5, "missed", True),
        ("a b c", "x y z", 0.0, "similar", False),
    ],
)
def test_text_thresholds(
    expected: str, actual: str, threshold: float, status: str, failed: bool
) -> None:
    """exact ≥ 0.95, similar ≥ threshold, else divergent; empty answers are missed."""
    config = {"grading_config": {"text_similarity_threshold": threshold}}
    graded = grade_run(_run(_test(_text(0, expected, actual))), agent_config=config)
    action = graded["tests"][0]["action_results"][0]
    assert action["match_status"] == status
    assert graded["tests"][0]["status"] == ("failed" if failed else "completed")
    assert graded["tests"][0]["grading"]["text_similarity_threshold"] == threshold


def test_already_failed_tests_and_pre_graded_texts() -> None:
    """A failed test stays failed with that reason; non-pending texts keep their status."""
    failed = _test(_text(0, "hi", "hi"), status="failed", test_id="f")
    pre = _test(_text(0, "hi", "bye", status="mismatch"), test_id="m")
    ok = _test(_text(0, "hi", "zzz", status="similar"), test_id="o")
    graded = grade_run(_run(failed, pre, ok), agent_config=None)
    by_id = {t["test_id"]: t for t in graded["tests"]}
    assert by_id["f"]["status"] == "failed"
    assert by_id["f"]["grading"]["reasons"][0] == "the test had already failed when it ran"
    assert by_id["m"]["status"] == "failed"
    assert by_id["o"]["status"] == "completed"
    assert by_id["o"]["action_results"][0]["match_status"] == "similar"
    assert graded["aggregate_metrics"]["tests_passed"] == 1
    assert graded["aggregate_metrics"]["tests_failed"] == 2


class FixedJudge:
    def __init__(self, score: float | Exception) -> None:
        self.score = score
        self.calls: list[tuple[str, str]] = []

    def judge_similarity(self, expected: str, actual: str) -> float:
        self.calls.append((expected, actual))
        if isinstance(self.score, Exception):
            raise self.score
        return self.score


def test_llm_judge_scores_texts_and_its_failure_fails_grading() -> None:
    """With a judge, its score replaces text_similarity; a judge error is a GradingError."""
    result = _run(_test(_text(0, "Bonjour", "Hello"), _text(1, "x", "")))
    judge = FixedJudge(0.9)
    graded = grade_run(result, agent_config=None, llm=judge)  # type: ignore[arg-type]
    assert judge.calls == [("Bonjour", "Hello")]  # empty answers are missed without a call
    assert graded["tests"][0]["action_results"][0]["semantic_similarity"] == 0.9
    assert graded["tests"][0]["action_results"][0]["match_status"] == "similar"
    assert graded["tests"][0]["grading"]["judge"] == "llm"
    with pytest.raises(GradingError, match="LLM judge failed: boom"):
        grade_run(result, agent_config=None, llm=FixedJudge(RuntimeError("boom")))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("result", "config", "message"),
    [
        ([], None, "result: expected a run result object"),
        ({"tests": {}}, None, "result.tests: expected an array"),
        ({"tests": [1]}, None, "result.tests[0]: expected a test object"),
        (
            {"tests": [{"test_id": "a", "action_results": None}]},
            None,
            "tests['a'].action_results: expected an array",
        ),
        ({"tests": []}, {"grading_config": []}, "agent_config.grading_config: expected an object"),
        (
            {"tests": []},
            {"grading_config": {"tool_strictness": {"t": "must"}}},
            "grading_config.tool_strictness.t: expected one of required, expected, optional",
        ),
        (
            {"tests": []},
            {"grading_config": {"text_similarity_threshold": 2}},
            "grading_config.text_similarity_threshold: expected a number 0–1, got 2",
        ),
        (
            {"tests": []},
            {"grading_config": {"text_similarity_threshold": "0.3"}},
            "expected a number 0–1, got '0.3'",
        ),
    ],
)
def test_bad_inputs_raise_grading_errors(result: Any, config: Any, message: str) -> None:
    """Unusable results and configs raise GradingError naming the field."""
    with pytest.raises(GradingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grade_run(result, agent_config=config)


def test_generated_dataset_run_with_a_perfect_agent_passes() -> None:
    """An agent that replays a generated dataset's expectations passes every test."""
    config = {
        "agent": {
            "name": "Bot",
            "tools": [LOOKUP_ORDER_TOOL],
        },
        "context": {"domain": "e-commerce"},
        "test_config": {"num_variations": 6},
    }
    source = generate_dataset_source(config, request_name="replay").dataset_source

    class Replayer:
        def __init__(self) -> None:
            self.turns: list[dict[str, Any]] = []

        def reset(self, scenario_id: str) -> None:
            actions = source["runs"][scenario_id]["actions"]
            self.turns = [
                {
                    "text": a["content"],
                    "tool_calls": [
                        {"name": c["name"], "arguments": json.loads(c["arguments_json"])}
                        for c in a["expected_response"]["tool_calls"]
                    ],
                }
                for a in actions
                if a["actor"] == "agent"
            ]

        def respond(self, message: str, scenario_id: str) -> dict[str, Any]:
            return self.turns.pop(0)

    replayer: Any = Replayer()  # respond/reset take scenario_id (protocol §5)
    graded = grade_run(EvalRunner(source).run(replayer).build(), agent_config=None)
    metrics = graded["aggregate_metrics"]
    assert metrics["tests_passed"] == metrics["total_tests"] == 6
    assert metrics["total_tool_call_divergence"] == metrics["total_response_divergence"] == 0
    assert metrics["average_similarity_score"] == 1.0


statuses = st.sampled_from(["exact", "partial", "mismatch", "pending", "similar", None, ""])


@given(
    tests=st.lists(
        st.fixed_dictionaries(
            {
                "status": st.sampled_from(["completed", "failed", "running"]),
                "texts": st.lists(
                    st.tuples(
                        st.sampled_from(["ok fine", "refund sent", ""]),
                        st.sampled_from(["ok fine", "no", ""]),
                    ),
                    max_size=3,
                ),
                "calls": st.lists(
                    st.tuples(
                        st.sampled_from(["t", "u"]),
                        st.sampled_from(["t", "u", "NOT_CALLED"]),
                        st.integers(0, 2),
                    ),
                    max_size=3,
                ),
            }
        ),
        max_size=4,
    ),
    threshold=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_grading_properties(tests: list[dict[str, Any]], threshold: float) -> None:
    """Deterministic; metrics match a recount; a pass means no failing item; input untouched."""
    docs = []
    for i, spec in enumerate(tests):
        actions: list[dict[str, Any]] = []
        for j, (exp, act) in enumerate(spec["texts"]):
            actions.append(_text(j, exp, act))
        entries = [
            _tool_entry(_call(e, k=1), _call(a, k=v) if a != "NOT_CALLED" else NOT_CALLED)
            for e, a, v in spec["calls"]
        ]
        if entries:
            actions.append(_tools(9, *entries))
        docs.append(_test(*actions, status=spec["status"], test_id=f"t{i}"))
    result = _run(*docs)
    snapshot = copy.deepcopy(result)
    config = {"grading_config": {"text_similarity_threshold": threshold}}
    graded = grade_run(result, agent_config=config)
    assert result == snapshot
    assert graded == grade_run(copy.deepcopy(result), agent_config=config)
    metrics = graded["aggregate_metrics"]
    assert list(metrics) == [  # the published client's order (RunBuilder shares the function)
        "total_tests",
        "tests_passed",
        "tests_failed",
        "average_similarity_score",
        "total_tool_call_divergence",
        "total_response_divergence",
    ]
    assert metrics["tests_passed"] == sum(t["status"] == "completed" for t in graded["tests"])
    for test in graded["tests"]:
        texts = [a for a in test["action_results"] if a["action_type"] == "text"]
        assert all(a["match_status"] != "pending" for a in texts)
        if test["grading"]["passed"]:
            assert all(a["match_status"] not in ("divergent", "missed") for a in texts)
        for a in texts:
            score = a.get("semantic_similarity")
            assert score is None or 0.0 <= score <= 1.0


def test_agent_grading_config_applies_over_the_local_server(client: Any) -> None:
    """Through the real client and server: an agent that answers in text but never calls its
    tool fails under the default strictness and passes (recovered) when the tool is optional."""
    config = {
        "agent": {
            "name": "Texty",
            "description": "Answers order questions",
            "accepted_inputs": {"text": True},
            "tools": [LOOKUP_ORDER_TOOL],
        },
        "context": {"domain": "e-commerce", "use_case": "Order status questions"},
        "generation_options": {"generate_audio": False},
        "test_config": {
            "num_variations": 3,
            "coverage": {"happy_path": True},
            "complexity_distribution": {"simple": 1.0},
        },
    }
    dataset_id, source = client.generate_dataset("texty", config, timeout=30, poll_interval=0.05)

    class TextOnly:
        def __init__(self) -> None:
            self.answers: list[str] = []

        def reset(self, scenario_id: str) -> None:
            actions = source["runs"][scenario_id]["actions"]
            self.answers = [a["content"] for a in actions if a["actor"] == "agent"]

        def respond(self, message: str, scenario_id: str) -> dict[str, Any]:
            return {"text": self.answers.pop(0), "tool_calls": []}

    agent: Any = TextOnly()
    strict = EvalRunner(source).run(agent).deploy(client, dataset_id=dataset_id)
    graded = client.poll_run(strict["id"], timeout=20, poll_interval=0.05)
    assert graded["result"]["aggregate_metrics"]["tests_failed"] == 3
    lenient_agent = client.create_agent(
        name="Texty (lenient)",
        config={"grading_config": {"tool_strictness": {"lookup_order": "optional"}}},
    )
    lenient = (
        EvalRunner(source)
        .run(agent)
        .deploy(client, dataset_id=dataset_id, agent_id=lenient_agent["id"])
    )
    graded = client.poll_run(lenient["id"], timeout=20, poll_interval=0.05)
    metrics = graded["result"]["aggregate_metrics"]
    assert metrics["tests_passed"] == 3 and metrics["tests_failed"] == 0
    for test in graded["result"]["tests"]:
        assert test["grading"]["passed"] is True
        entry = next(a for a in test["action_results"] if a["action_type"] == "tool_call")
        assert entry["tool_calls"][0]["match_status"] == "partial"


def test_a_free_form_result_grades_as_zero_tests_and_keeps_its_fields() -> None:
    """The reference's create_run example (status, score, metrics; no tests) is gradable."""
    result = {"status": "passed", "score": 0.95, "metrics": {"accuracy": 0.98}}
    graded = grade_run(result, agent_config=None)
    assert {k: graded[k] for k in result} == result
    assert graded["aggregate_metrics"]["total_tests"] == 0
    assert graded["aggregate_metrics"]["tests_passed"] == 0
    assert "tests" not in graded

"""RunBuilder and TestBuilder produce the documents of protocol §4.4–4.6 and §4.8."""

from __future__ import annotations

import re
import threading
import warnings
from typing import Any

import pytest

from ashr_labs import ConfigurationError, RunBuilder, TestBuilder, compare_args_structural

from ._helpers import TIMESTAMP

COMPARISON: dict[str, dict[str, Any]] = {
    "matching": {},
    "different": {},
    "missing": {},
    "extra": {},
}


def test_api_reference_example_builds_the_documented_document() -> None:
    """The API reference's RunBuilder example gives the §4.4 document key for key."""
    run = RunBuilder()
    run.start()
    test = run.add_test("bank_analysis")
    test.start()
    test.add_user_text(text="Analyze this", description="User prompt")
    with pytest.warns(UserWarning, match="argument_comparison"):
        test.add_tool_call(
            expected={"tool_name": "analyze", "arguments": {"data": "input"}},
            actual={"tool_name": "analyze", "arguments": {"data": "input"}},
            match_status="exact",
        )
    test.complete()
    run.complete()
    doc = run.build()
    assert set(doc) == {"tests", "status", "started_at", "completed_at", "aggregate_metrics"}
    assert doc["status"] == "completed"
    assert TIMESTAMP.match(doc["started_at"]) and TIMESTAMP.match(doc["completed_at"])
    (built,) = doc["tests"]
    assert set(built) == {"test_id", "status", "action_results", "started_at", "completed_at"}
    assert built["test_id"] == "bank_analysis" and built["status"] == "completed"
    assert built["action_results"] == [
        {
            "actor": "user",
            "action_type": "text",
            "action_index": 0,
            "description": "User prompt",
            "text": "Analyze this",
            "input_provided": True,
        },
        {
            "actor": "agent",
            "action_type": "tool_call",
            "action_index": 1,
            "tool_calls": [
                {
                    "expected": {
                        "tool_name": "analyze",
                        "arguments": {"data": "input"},
                        "name": "analyze",
                        "arguments_json": '{"data": "input"}',
                    },
                    "actual": {
                        "tool_name": "analyze",
                        "arguments": {"data": "input"},
                        "name": "analyze",
                        "arguments_json": '{"data": "input"}',
                    },
                    "match_status": "exact",
                    "divergence_notes": None,
                }
            ],
        },
    ]
    assert doc["aggregate_metrics"] == {
        "total_tests": 1,
        "tests_passed": 1,
        "tests_failed": 0,
        "average_similarity_score": None,
        "total_tool_call_divergence": 0,
        "total_response_divergence": 0,
    }


def test_new_builders_are_pending_and_leave_out_unset_times() -> None:
    """A fresh run is ``pending`` with null times; an unstarted test has no time keys."""
    run = RunBuilder()
    assert run.build()["status"] == "pending"
    assert run.build()["started_at"] is None and run.build()["completed_at"] is None
    test = run.add_test("t")
    assert test.build() == {"test_id": "t", "status": "pending", "action_results": []}
    test.start()
    assert test.build()["status"] == "running" and "completed_at" not in test.build()
    assert run.start().build()["status"] == "running"


def test_user_file_and_agent_response_entries() -> None:
    """User file and agent text entries carry exactly the §4.4 keys; similarity only if given."""
    test = TestBuilder("t")
    test.add_user_file(file_path="datasets/x/action_0.pdf", description="Upload PDF")
    test.add_agent_response({"text": "a"}, {"text": "b"}, "similar", semantic_similarity=0.89)
    test.add_agent_response({"text": "a"}, {"text": "a"}, "exact", divergence_notes="fine")
    file_entry, similar, exact = test.build()["action_results"]
    assert file_entry == {
        "actor": "user",
        "action_type": "file",
        "action_index": 0,
        "description": "Upload PDF",
        "file_path": "datasets/x/action_0.pdf",
        "input_provided": True,
    }
    assert similar == {
        "actor": "agent",
        "action_type": "text",
        "action_index": 1,
        "expected_response": {"text": "a"},
        "actual_response": {"text": "b"},
        "match_status": "similar",
        "divergence_notes": None,
        "semantic_similarity": 0.89,
    }
    assert "semantic_similarity" not in exact and exact["divergence_notes"] == "fine"


def test_index_rules_auto_explicit_and_merge() -> None:
    """Auto indices count up; an explicit k sets the next to k+1; explicit tool calls merge."""
    test = TestBuilder("t")
    test.add_user_text("a", "d")  # 0
    test.add_user_text("b", "d", action_index=5)  # 5
    test.add_user_text("c", "d")  # 6
    test.add_user_text("d", "d", action_index=2)  # 2 (indices may repeat or go back)
    test.add_tool_call({"name": "x"}, {"name": "x"}, "exact", argument_comparison=COMPARISON)  # 3
    test.add_tool_call(
        {"name": "y"}, {"name": "y"}, "exact", argument_comparison=COMPARISON, action_index=3
    )
    test.add_agent_response({"text": ""}, {"text": ""}, "pending", action_index=3)
    test.add_tool_call({"name": "z"}, {"name": "z"}, "exact", argument_comparison=COMPARISON)  # 4
    results = test.build()["action_results"]
    assert [r["action_index"] for r in results] == [0, 5, 6, 2, 3, 3, 4]
    merged = results[4]
    assert [c["expected"]["name"] for c in merged["tool_calls"]] == ["x", "y"]
    assert results[5]["action_type"] == "text" and results[5]["action_index"] == 3
    assert [c["expected"]["name"] for c in results[6]["tool_calls"]] == ["z"]


def test_merge_goes_into_the_first_tool_call_entry_with_that_index() -> None:
    """Every later call with the same explicit index joins the first entry, in call order."""
    test = TestBuilder("t")
    for name in ("a", "b", "c"):
        test.add_tool_call(
            {"name": name}, {"name": name}, "exact", argument_comparison=COMPARISON, action_index=0
        )
    (entry,) = test.build()["action_results"]
    assert [c["actual"]["name"] for c in entry["tool_calls"]] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        (
            {"name": "lookup", "arguments_json": '{"order_id": "ORD-1"}'},
            {
                "name": "lookup",
                "tool_name": "lookup",
                "arguments_json": '{"order_id": "ORD-1"}',
                "arguments": {"order_id": "ORD-1"},
            },
        ),
        (
            {"tool_name": "lookup", "arguments": {"order_id": "ORD-1", "n": [1, 2]}},
            {
                "tool_name": "lookup",
                "name": "lookup",
                "arguments": {"order_id": "ORD-1", "n": [1, 2]},
                "arguments_json": '{"order_id": "ORD-1", "n": [1, 2]}',
            },
        ),
        (
            {"name": "x", "arguments_json": "not json"},
            {"name": "x", "tool_name": "x", "arguments_json": "not json", "arguments": {}},
        ),
        (
            {"name": "x", "arguments_json": {"a": 1}},
            {"name": "x", "tool_name": "x", "arguments_json": {"a": 1}, "arguments": {"a": 1}},
        ),
        (
            {"name": "x", "arguments": [1, 2]},
            {"name": "x", "tool_name": "x", "arguments": [1, 2], "arguments_json": "[1, 2]"},
        ),
        (
            {"name": "x", "arguments": {"city": "Zürich"}},
            {
                "name": "x",
                "tool_name": "x",
                "arguments": {"city": "Zürich"},
                "arguments_json": '{"city": "Z\\u00fcrich"}',
            },
        ),
        (
            {"name": "a", "tool_name": "b", "arguments": {"k": 1}, "arguments_json": "{}"},
            {"name": "a", "tool_name": "b", "arguments": {"k": 1}, "arguments_json": "{}"},
        ),
        ({}, {}),
    ],
)
def test_tool_call_normalisation(given: dict[str, Any], normalised: dict[str, Any]) -> None:
    """Protocol §4.5: missing keys are filled, existing keys never overwritten, input untouched."""
    before = repr(given)
    test = TestBuilder("t")
    test.add_tool_call(given, given, "exact", argument_comparison=COMPARISON)
    entry = test.build()["action_results"][0]["tool_calls"][0]
    assert entry["expected"] == normalised and entry["actual"] == normalised
    assert repr(given) == before


def test_missing_argument_comparison_warns_and_is_left_out() -> None:
    """Without ``argument_comparison`` a UserWarning names the tool and the key is absent."""
    test = TestBuilder("t")
    with pytest.warns(UserWarning, match="'lookup'.*grader may skip"):
        test.add_tool_call({"name": "lookup"}, {"name": "lookup"}, "exact")
    assert "argument_comparison" not in test.build()["action_results"][0]["tool_calls"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status, comparison = compare_args_structural({"name": "a"}, {"name": "a"})
        test.add_tool_call({"name": "a"}, {"name": "a"}, status, argument_comparison=comparison)


def _test_with(status: str, tool_statuses: list[str], texts: list[dict[str, Any]]) -> TestBuilder:
    test = TestBuilder(f"t-{status}-{len(tool_statuses)}-{len(texts)}")
    test.start()
    for n, tool_status in enumerate(tool_statuses):
        test.add_tool_call(
            {"name": "x"},
            {"name": "x"},
            tool_status,
            argument_comparison=COMPARISON,
            action_index=n % 2,
        )
    for text in texts:
        test.add_agent_response({"text": "e"}, {"text": "a"}, **text)
    test.add_user_text("u", "user text is never a response divergence")
    return test.complete(status)


def test_aggregate_metrics() -> None:
    """Protocol §4.6: pass/fail by execution status, divergences, half-even rounded mean."""
    run = RunBuilder()
    tests = [
        _test_with(
            "completed",
            ["exact", "partial", "mismatch"],
            [
                {"match_status": "pending"},
                {"match_status": "similar", "semantic_similarity": 0.555},
            ],
        ),
        _test_with(
            "failed",
            ["exact"],
            [
                {"match_status": "exact", "semantic_similarity": 1},
                {"match_status": "divergent", "semantic_similarity": 0.1},
            ],
        ),
        _test_with("weird", [], []),
    ]
    for test in tests:
        run._append(test)
    assert run.build()["aggregate_metrics"] == {
        "total_tests": 3,
        "tests_passed": 1,
        "tests_failed": 1,
        "average_similarity_score": 0.55,  # mean 0.5516... (protocol §4.6 verified example)
        "total_tool_call_divergence": 2,
        "total_response_divergence": 3,
    }


def test_average_similarity_rounds_half_even_on_the_binary_value() -> None:
    """0.125 is exact in binary and rounds to 0.12; 0.135 is just above and rounds to 0.14."""
    for scores, expected in (([0.125], 0.12), ([0.135], 0.14), ([0.5, 1.0], 0.75)):
        test = TestBuilder("t")
        for score in scores:
            test.add_agent_response({}, {}, "similar", semantic_similarity=score)
        run = RunBuilder()
        run._append(test)
        assert run.build()["aggregate_metrics"]["average_similarity_score"] == expected


def test_vm_stream_keeps_only_given_fields_and_is_replaced() -> None:
    """``set_vm_stream`` stores the provider and each non-None argument; a later call replaces."""
    test = TestBuilder("t")
    logs = [
        {"ts": 0, "type": "navigation", "data": {"url": "https://app.example.com"}},
        {"ts": 2000, "type": "action", "data": {"action": "click", "selector": "#submit"}},
        {
            "ts": 5000,
            "type": "network",
            "data": {"method": "POST", "url": "/api/order", "status": 201},
        },
    ]
    test.set_vm_stream(
        provider="browserbase", session_id="sess_abc123", duration_ms=12000, logs=logs
    )
    assert test.build()["vm_stream"] == {
        "provider": "browserbase",
        "session_id": "sess_abc123",
        "duration_ms": 12000,
        "logs": logs,
    }
    test.set_vm_stream("steel")
    assert test.build()["vm_stream"] == {"provider": "steel"}


def test_kernel_vm_api_reference_example() -> None:
    """The API reference's set_kernel_vm example: Kernel fields become metadata."""
    logs = [
        {"ts": 0, "type": "navigation", "data": {"url": "https://app.example.com"}},
        {"ts": 1200, "type": "action", "data": {"action": "click", "selector": "#login"}},
        {"ts": 3000, "type": "screenshot", "data": {"s3_key": "vm-streams/.../frame.png"}},
    ]
    test = TestBuilder("t").set_kernel_vm(
        session_id="kern_sess_abc123",
        duration_ms=15000,
        logs=logs,
        replay_id="replay_abc123",
        replay_view_url="https://www.kernel.sh/replays/replay_abc123",
        stealth=True,
        viewport={"width": 1920, "height": 1080},
    )
    assert test.build()["vm_stream"] == {
        "provider": "kernel",
        "session_id": "kern_sess_abc123",
        "duration_ms": 15000,
        "logs": logs,
        "metadata": {
            "replay_id": "replay_abc123",
            "replay_view_url": "https://www.kernel.sh/replays/replay_abc123",
            "stealth": True,
            "viewport": {"width": 1920, "height": 1080},
        },
    }


def test_kernel_vm_matches_the_protocol_example() -> None:
    """Protocol §4.8's verified example, and no ``metadata`` key when no Kernel field is set."""
    test = TestBuilder("t")
    test.set_kernel_vm("k1", replay_id="r", stealth=False, viewport={"width": 1, "height": 2})
    assert test.build()["vm_stream"] == {
        "provider": "kernel",
        "session_id": "k1",
        "metadata": {"replay_id": "r", "stealth": False, "viewport": {"width": 1, "height": 2}},
    }
    test.set_kernel_vm("k2", duration_ms=15000)
    assert test.build()["vm_stream"] == {
        "provider": "kernel",
        "session_id": "k2",
        "duration_ms": 15000,
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda t: t.add_tool_call({"name": "x"}, {"name": "x"}, "ok", argument_comparison={}),
            "match_status",
        ),
        (
            lambda t: t.add_tool_call(["x"], {"name": "x"}, "exact", argument_comparison={}),
            "expected",
        ),
        (lambda t: t.add_tool_call({"name": "x"}, None, "exact", argument_comparison={}), "actual"),
        (
            lambda t: t.add_tool_call(
                {"name": "x"}, {"name": "x"}, "exact", argument_comparison=[]
            ),
            "argument_comparison",
        ),
        (
            lambda t: t.add_tool_call(
                {"name": "x", "arguments": {"when": object()}}, {}, "exact", argument_comparison={}
            ),
            "expected.arguments",
        ),
        (lambda t: t.add_user_text("x", "d", action_index=-1), "action_index"),
        (lambda t: t.add_user_text("x", "d", action_index=True), "action_index"),
        (lambda t: t.add_user_text(None, "d"), "text"),
        (lambda t: t.add_user_file("", "d"), "file_path"),
        (lambda t: t.add_agent_response({}, {}, "close"), "match_status"),
        (lambda t: t.add_agent_response("text", {}, "exact"), "expected_response"),
        (
            lambda t: t.add_agent_response({}, {}, "exact", semantic_similarity=1.5),
            "semantic_similarity",
        ),
        (
            lambda t: t.add_agent_response({}, {}, "exact", semantic_similarity=float("nan")),
            "semantic_similarity",
        ),
        (lambda t: t.set_vm_stream(""), "provider"),
        (lambda t: t.set_vm_stream("p", logs=[{"type": "x"}]), "logs[0].ts"),
        (lambda t: t.set_vm_stream("p", logs={"ts": 0}), "logs"),
        (lambda t: t.set_vm_stream("p", duration_ms=-5), "duration_ms"),
        (lambda t: t.set_kernel_vm("k", headless="yes"), "headless"),
        (lambda t: t.complete(status=""), "status"),
    ],
)
def test_bad_arguments_raise_naming_the_field_and_change_nothing(call: Any, field: str) -> None:
    """Builders validate before they mutate: the error names the field; the test is unchanged."""
    test = TestBuilder("t").start()
    test.add_user_text("hello", "first")
    before = test.build()
    with pytest.raises(ConfigurationError, match="^" + re.escape(field)) as info:
        call(test)
    assert isinstance(info.value, ValueError)
    assert test.build() == before
    test.add_user_text("next", "d")
    assert test.build()["action_results"][-1]["action_index"] == 1


def test_run_builder_rejects_bad_and_duplicate_test_ids() -> None:
    """``add_test`` wants a non-empty, unique id; a rejected id leaves the run unchanged."""
    run = RunBuilder()
    run.add_test("a")
    for bad in ("", None, 3):
        with pytest.raises(ConfigurationError, match="test_id"):
            run.add_test(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="already"):
        run.add_test("a")
    assert [t.test_id for t in run.tests] == ["a"]


def test_deploy_checks_ids_before_any_call() -> None:
    """A non-int id is refused before the client is touched."""

    class NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"client.{name} must not be called")

    with pytest.raises(ConfigurationError, match="dataset_id"):
        RunBuilder().deploy(NoCalls(), dataset_id="42")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="agent_id"):
        RunBuilder().deploy(NoCalls(), dataset_id=42, agent_id=True)  # type: ignore[arg-type]


def test_built_documents_are_snapshots() -> None:
    """Changing a built document, or the builder afterwards, does not affect the other."""
    test = TestBuilder("t")
    test.add_tool_call(
        {"name": "a"}, {"name": "a"}, "exact", argument_comparison=COMPARISON, action_index=0
    )
    first = test.build()
    first["action_results"][0]["tool_calls"].clear()
    test.add_tool_call(
        {"name": "b"}, {"name": "b"}, "exact", argument_comparison=COMPARISON, action_index=0
    )
    assert len(test.build()["action_results"][0]["tool_calls"]) == 2
    assert first["action_results"][0]["tool_calls"] == []


def test_builders_are_thread_safe() -> None:
    """Eight threads adding tests and merging tool calls lose nothing and never collide."""
    run = RunBuilder().start()
    shared = run.add_test("shared")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait(timeout=5)
            for n in range(50):
                test = run.add_test(f"w{worker}-{n}")
                test.start().add_user_text("x", "d").complete()
                shared.add_tool_call(
                    {"name": f"w{worker}"},
                    {"name": f"w{worker}"},
                    "exact",
                    argument_comparison=COMPARISON,
                    action_index=7,
                )
                shared.add_user_text("y", "d")
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    doc = run.build()
    assert doc["aggregate_metrics"]["total_tests"] == 401
    assert len({t["test_id"] for t in doc["tests"]}) == 401
    shared_doc = doc["tests"][0]
    (merged,) = [r for r in shared_doc["action_results"] if r["action_type"] == "tool_call"]
    assert len(merged["tool_calls"]) == 400
    for worker in range(8):
        names = [c["expected"]["name"] for c in merged["tool_calls"]]
        assert names.count(f"w{worker}") == 50

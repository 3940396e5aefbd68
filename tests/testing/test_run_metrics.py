"""The one ``aggregate_metrics`` (protocol §4.6) that RunBuilder and the server's grader share.

Well-formed documents get exactly the published client's metrics, in its key order; a document
a caller submitted by hand may hold anything, and still gets metrics rather than an error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from ashr_labs import RunBuilder
from ashr_labs._run_metrics import aggregate_metrics
from ashr_labs.server._grading import grade_run
from tests.support.published_client import run_published

_PUBLISHED = r"""
import json, sys
from ashr_labs.run_builder import _compute_aggregate
with open(sys.argv[1]) as corpus:
    docs = json.load(corpus)
print(json.dumps([list(_compute_aggregate(tests).items()) for tests in docs]))
"""

STATUSES = ["exact", "partial", "mismatch", "similar", "divergent", "pending", "missed", "", None]


def _random_tests(rng: random.Random) -> list[dict[str, Any]]:
    tests = []
    for n in range(rng.randint(0, 4)):
        actions: list[dict[str, Any]] = []
        for index in range(rng.randint(0, 5)):
            kind = rng.choice(["tool_call", "text", "file"])
            action: dict[str, Any] = {
                "actor": rng.choice(["agent", "user"]),
                "action_type": kind,
                "action_index": index,
            }
            if kind == "tool_call":
                action["tool_calls"] = [
                    {"match_status": rng.choice(STATUSES)} for _ in range(rng.randint(0, 3))
                ]
            else:
                action["match_status"] = rng.choice(STATUSES)
                score = rng.choice([None, True, False, 0, 1, 0.125, 0.135, 0.555, 0.1, "0.9"])
                if score is not None:
                    action["semantic_similarity"] = score
            actions.append(action)
        status = rng.choice(["completed", "failed", "running", "pending"])
        tests.append({"test_id": f"t{n}", "status": status, "action_results": actions})
    return tests


def test_well_formed_documents_match_the_published_client_key_for_key(tmp_path: Path) -> None:
    """Random documents (bools and ints as scores, every status): same values, same key order."""
    rng = random.Random(11)
    corpus = [_random_tests(rng) for _ in range(300)]
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(corpus))
    theirs = run_published(_PUBLISHED, str(path), timeout=60)
    ours = [list(aggregate_metrics(tests).items()) for tests in corpus]
    assert json.loads(json.dumps(ours)) == theirs


def test_builder_and_grader_report_the_same_metrics_for_graded_statuses() -> None:
    """A run whose statuses need no grading keeps its metrics through the server's grader."""
    run = RunBuilder().start()
    test = run.add_test("t1").start()
    test.add_agent_response({"text": "a"}, {"text": "a"}, "exact", semantic_similarity=1.0)
    test.add_agent_response({"text": "b"}, {"text": "c"}, "similar", semantic_similarity=0.555)
    test.complete()
    run.add_test("t2").start().complete("failed")
    built = run.complete().build()
    graded = grade_run(built, agent_config=None)
    assert graded["aggregate_metrics"] == built["aggregate_metrics"]
    assert built["aggregate_metrics"] == {
        "total_tests": 2,
        "tests_passed": 1,
        "tests_failed": 1,
        "average_similarity_score": 0.78,
        "total_tool_call_divergence": 0,
        "total_response_divergence": 1,
    }


def test_malformed_entries_are_passed_over_and_nan_is_not_averaged() -> None:
    """Non-object tests count only in the total; non-list actions or calls and NaN are skipped."""
    tests: list[Any] = [
        "not a test",
        {"status": "completed", "action_results": "nope"},
        {
            "status": "failed",
            "action_results": [
                7,
                {"action_type": "tool_call", "tool_calls": {"match_status": "mismatch"}},
                {"action_type": "tool_call", "tool_calls": [None, {"match_status": "partial"}]},
                {"action_type": "text", "actor": "agent", "semantic_similarity": float("nan")},
                {
                    "action_type": "text",
                    "actor": "agent",
                    "match_status": "pending",
                    "semantic_similarity": 0.5,
                },
            ],
        },
    ]
    assert aggregate_metrics(tests) == {
        "total_tests": 3,
        "tests_passed": 1,
        "tests_failed": 1,
        "average_similarity_score": 0.5,
        "total_tool_call_divergence": 1,
        "total_response_divergence": 1,
    }
    assert aggregate_metrics([])["average_similarity_score"] is None

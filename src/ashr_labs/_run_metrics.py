"""The ``aggregate_metrics`` of a run result (protocol §4.6), shared by client and server.

``RunBuilder.build()`` computes them for the run it submits and the local server's grader
recomputes them after grading; both call ``aggregate_metrics`` so the two can never disagree.
It lives below both packages because the server may not import ``ashr_labs.testing``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["aggregate_metrics"]


def _divergent(status: Any) -> bool:
    """A ``match_status`` that is set and is not ``exact`` (``pending``/``similar`` count)."""
    return bool(status) and status != "exact"


def _items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` when it is a list; a submitted document may hold anything."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def aggregate_metrics(tests: Sequence[Any]) -> dict[str, Any]:
    """The six metrics of protocol §4.6 for test documents, in the published client's key order.

    ``tests_passed``/``tests_failed`` count execution status ``completed``/``failed`` (not a
    grade); ``total_tests`` counts every entry. The average similarity takes every number
    (``bool`` included, as the published client does) except NaN, which no JSON can carry, and
    is rounded with Python's ``round(x, 2)`` (half-even on the binary value); ``None`` when
    there is none. Entries that are not objects are passed over, so a malformed submitted
    document still gets metrics.
    """
    docs = [t for t in tests if isinstance(t, Mapping)]
    tool_divergence = response_divergence = 0
    scores: list[float] = []
    for test in docs:
        for action in _items(test.get("action_results")):
            kind = action.get("action_type")
            if kind == "tool_call":
                calls = _items(action.get("tool_calls"))
                tool_divergence += sum(1 for call in calls if _divergent(call.get("match_status")))
            elif kind == "text" and action.get("actor") == "agent":
                response_divergence += _divergent(action.get("match_status"))
                score = action.get("semantic_similarity")
                if isinstance(score, (int, float)) and not (
                    isinstance(score, float) and math.isnan(score)
                ):
                    scores.append(score)
    return {
        "total_tests": len(tests),
        "tests_passed": sum(1 for t in docs if t.get("status") == "completed"),
        "tests_failed": sum(1 for t in docs if t.get("status") == "failed"),
        "average_similarity_score": round(sum(scores) / len(scores), 2) if scores else None,
        "total_tool_call_divergence": tool_divergence,
        "total_response_divergence": response_divergence,
    }

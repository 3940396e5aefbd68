"""Pairing expected tool calls with actual ones, greedily (as the published runner does) or
optimally.

``greedy``: each expected call, in order, takes the first remaining actual call with the same
name (protocol §5 "Pairing is greedy"). Same-name calls can pair the wrong way round.

``optimal``: calls pair only by equal name (sentinels never pair). Among assignments with the
most pairs, it takes the most ``exact`` pairs, then the greatest total argument agreement
(matching keys over the union of keys, in thousandths), then the smallest total distance
between the two calls' positions, so ties keep the calls' order. Solved per name with the
Hungarian algorithm on integer weights, so it is exact and deterministic for any size.

Both return one ``(expected_index, actual_index)`` pair per expected call in expected order
(``actual_index`` None when unpaired), then ``(None, actual_index)`` for each unpaired actual
call in actual order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._args import NONE_EXPECTED, NOT_CALLED, call_name, compare_args_structural

__all__ = ["pair_tool_calls"]


def _greedy(expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]) -> dict[int, int]:
    taken: dict[int, int] = {}
    free = list(range(len(actual)))
    for i, call in enumerate(expected):
        name = call_name(call)
        j = next((j for j in free if call_name(actual[j]) == name), None)
        if j is not None:
            taken[i] = j
            free.remove(j)
    return taken


def _agreement(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[int, int]:
    """(1 if exact else 0, agreement in thousandths) for two calls with the same name."""
    status, comparison = compare_args_structural(expected, actual)
    keys = sum(len(bucket) for bucket in comparison.values())
    share = 1000 if keys == 0 else (1000 * len(comparison["matching"])) // keys
    return int(status == "exact"), share


def _hungarian_max(weights: list[list[int]]) -> list[int]:
    """Row -> column assignment maximising the total weight; rows must not outnumber columns."""
    rows, cols = len(weights), len(weights[0])
    top = max(max(row) for row in weights)
    cost = [[top - w for w in row] for row in weights]
    u, v = [0] * (rows + 1), [0] * (cols + 1)
    owner = [0] * (cols + 1)  # owner[j] = 1-based row assigned to column j, 0 if none
    for r in range(1, rows + 1):
        owner[0], j0 = r, 0
        best: list[int | None] = [None] * (cols + 1)
        back = [0] * (cols + 1)
        used = [False] * (cols + 1)
        while owner[j0] != 0:
            used[j0] = True
            r0, delta, j1 = owner[j0], 0, 0
            first = True
            for j in range(1, cols + 1):
                if used[j]:
                    continue
                reduced = cost[r0 - 1][j - 1] - u[r0] - v[j]
                current = best[j]
                if current is None or reduced < current:
                    best[j], back[j] = reduced, j0
                    current = reduced
                if first or current < delta:
                    delta, j1, first = current, j, False
            for j in range(cols + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    current = best[j]
                    if current is not None:
                        best[j] = current - delta
            j0 = j1
        while j0:
            j1 = back[j0]
            owner[j0] = owner[j1]
            j0 = j1
    assignment = [-1] * rows
    for j in range(1, cols + 1):
        if owner[j]:
            assignment[owner[j] - 1] = j - 1
    return assignment


def _optimal(
    expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]
) -> dict[int, int]:
    taken: dict[int, int] = {}
    names = dict.fromkeys(call_name(call) for call in expected)
    for name in names:
        rows = [i for i, call in enumerate(expected) if call_name(call) == name]
        cols = [j for j, call in enumerate(actual) if call_name(call) == name]
        if not cols or name in (NONE_EXPECTED, NOT_CALLED):
            continue
        span = len(expected) + len(actual) + 1
        agreement_scale = span * (len(rows) + len(cols))
        exact_scale = 1001 * agreement_scale * (len(rows) + len(cols))
        weights = []
        for i in rows:
            row = []
            for j in cols:
                exact, share = _agreement(expected[i], actual[j])
                row.append(exact * exact_scale + share * agreement_scale + span - abs(i - j))
            weights.append(row)
        transposed = len(rows) > len(cols)
        if transposed:
            weights = [list(column) for column in zip(*weights, strict=True)]
        assignment = _hungarian_max(weights)
        for a, b in enumerate(assignment):
            i, j = (rows[b], cols[a]) if transposed else (rows[a], cols[b])
            taken[i] = j
    return taken


def pair_tool_calls(
    expected: list[dict[str, Any]],
    actual: list[dict[str, Any]],
    *,
    strategy: str = "optimal",
) -> list[tuple[int | None, int | None]]:
    """Pair expected with actual tool calls by index (rules in the module docstring)."""
    for label, calls in (("expected", expected), ("actual", actual)):
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            raise TypeError(f"{label} must be a list of tool-call dicts")
    if strategy == "greedy":
        taken = _greedy(expected, actual)
    elif strategy == "optimal":
        taken = _optimal(expected, actual)
    else:
        raise ValueError(f"strategy must be 'optimal' or 'greedy', got {strategy!r}")
    pairs: list[tuple[int | None, int | None]] = [(i, taken.get(i)) for i in range(len(expected))]
    used = set(taken.values())
    pairs.extend((None, j) for j in range(len(actual)) if j not in used)
    return pairs

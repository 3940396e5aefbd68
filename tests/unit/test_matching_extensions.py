"""Our additions to the comparators: schema-aware argument diffs and tool-call pairing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401  (registers and loads the "ci" profile)
from ashr_labs._matching import compare_args_structural, compare_args_with_schema, pair_tool_calls
from ashr_labs._matching._pairing import _hungarian_max

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]+$"},
        "status": {"type": "string", "enum": ["open", "Open", "closed"]},
        "amount": {"type": "number"},
        "count": {"type": "integer", "default": 1},
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "note": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "steps": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "zip": {"type": "string", "default": "00000"},
            },
        },
    },
}


def _call(name: str = "t", **args: Any) -> dict[str, Any]:
    return {"name": name, "arguments": args}


def _schema_status(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    status, _ = compare_args_with_schema(_call(**expected), _call(**actual), SCHEMA)
    return status


@pytest.mark.parametrize(
    ("expected", "actual", "status"),
    [
        ({"order_id": "ORD-1"}, {"order_id": "ORD-1"}, "exact"),
        ({"order_id": "ORD-1"}, {"order_id": "ord-1"}, "partial"),
        ({"status": "open"}, {"status": "Open"}, "partial"),
        ({"email": "A@x.io"}, {"email": "a@x.io"}, "partial"),
        ({"amount": 0.3}, {"amount": 0.1 + 0.2}, "exact"),
        ({"amount": 1e9}, {"amount": 1e9 + 0.5}, "exact"),
        ({"amount": 1.0}, {"amount": 1.01}, "partial"),
        ({"amount": 1}, {"amount": True}, "partial"),
        ({"day": "2024-01-15"}, {"day": "20240115"}, "exact"),
        ({"day": "2024-01-15"}, {"day": "2024-01-15T23:00:00"}, "exact"),
        ({"day": "2024-01-15"}, {"day": "2024-01-16"}, "partial"),
        ({"at": "2024-01-15T10:00:00Z"}, {"at": "2024-01-15T11:00:00+01:00"}, "exact"),
        ({"at": "2024-01-15T10:00:00Z"}, {"at": "2024-01-15T10:00:00"}, "partial"),
        ({"at": "2024-01-15T10:00:00Z"}, {"at": "not a date"}, "partial"),
        ({"note": "Damaged  item"}, {"note": "damaged item"}, "exact"),
        ({"note": "damaged item"}, {"note": "item damaged"}, "partial"),
        ({"tags": ["a", "b"]}, {"tags": ["b", "a"]}, "exact"),
        ({"tags": ["a", "b"]}, {"tags": ["a", "a"]}, "partial"),
        ({"steps": ["a", "b"]}, {"steps": ["b", "a"]}, "partial"),
        ({"count": 1}, {}, "exact"),
        ({}, {"count": 1}, "exact"),
        ({}, {"count": 2}, "partial"),
        ({"count": 3}, {}, "partial"),
        ({"address": {"city": "Oslo"}}, {"address": {"city": "Oslo", "zip": "00000"}}, "exact"),
        ({"address": {"city": "Oslo"}}, {"address": {"city": "Bergen"}}, "partial"),
        ({"address": {"city": "Oslo"}}, {"address": "Oslo"}, "partial"),
    ],
)
def test_compare_args_with_schema_value_rules(
    expected: dict[str, Any], actual: dict[str, Any], status: str
) -> None:
    """Enums, patterns, formats exact; numbers, dates, free text, sets, defaults normalised."""
    assert _schema_status(expected, actual) == status


def test_compare_args_with_schema_buckets_and_sentinels() -> None:
    """Same bucket shape as compare_args_structural; defaults stand in for the missing side."""
    status, comp = compare_args_with_schema(
        _call(order_id="ORD-1", count=1, amount=2.0),
        _call(order_id="ORD-2", amount=2, extra=True),
        SCHEMA,
    )
    assert status == "partial"
    assert comp == {
        "matching": {
            "count": {"expected": 1, "actual": 1},
            "amount": {"expected": 2.0, "actual": 2},
        },
        "different": {"order_id": {"expected": "ORD-1", "actual": "ORD-2"}},
        "missing": {},
        "extra": {"extra": {"actual": True}},
    }
    for expected, actual in [
        (_call(), {"name": "NOT_CALLED"}),
        ({"name": "NONE_EXPECTED"}, _call()),
        (_call("a"), _call("b")),
    ]:
        assert compare_args_with_schema(expected, actual, SCHEMA) == compare_args_structural(
            expected, actual
        )


def test_compare_args_with_schema_without_schema_compares_by_type() -> None:
    """With schema=None numbers use the tolerance and ISO instants normalise; ids exact."""
    status, _ = compare_args_with_schema(
        _call(x=0.3, d="2024-01-15T10:00:00Z", s="ORD-1"),
        _call(x=0.1 + 0.2, d="2024-01-15T10:00:00+00:00", s="ORD-1"),
        None,
    )
    assert status == "exact"
    assert compare_args_with_schema(_call(s="ORD-1"), _call(s="ord-1"), None)[0] == "partial"
    assert (
        compare_args_with_schema(_call(x=1.0), _call(x=1.5), None, number_tolerance=0.5)[0]
        == "exact"
    )


def test_compare_args_with_schema_rejects_bad_arguments() -> None:
    """Bad schema or tolerance raise errors that name the parameter."""
    with pytest.raises(TypeError, match="schema must be a dict"):
        compare_args_with_schema(_call(), _call(), [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="number_tolerance must be a number >= 0"):
        compare_args_with_schema(_call(), _call(), None, number_tolerance=-1)


def test_pair_tool_calls_greedy_reproduces_the_published_runner() -> None:
    """Greedy takes the first same-name call, so same-name calls can pair the wrong way round."""
    expected = [_call("t"), _call("t", k=1), _call("u")]
    actual = [_call("t", k=1), _call("t", k=2), _call("v")]
    assert pair_tool_calls(expected, actual, strategy="greedy") == [
        (0, 0),
        (1, 1),
        (2, None),
        (None, 2),
    ]


def test_pair_tool_calls_optimal_prefers_exact_pairs() -> None:
    """The protocol §5 wrong-way-round case pairs correctly under the optimal strategy."""
    expected = [_call("t"), _call("t", k=1), _call("u")]
    actual = [_call("t", k=1), _call("t", k=2), _call("v")]
    assert pair_tool_calls(expected, actual) == [(0, 1), (1, 0), (2, None), (None, 2)]


def test_pair_tool_calls_ties_keep_order_and_sentinels_never_pair() -> None:
    """Identical calls pair in order; NOT_CALLED / NONE_EXPECTED names are never paired."""
    same = [_call("t", a=1), _call("t", a=1)]
    assert pair_tool_calls(same, same) == [(0, 0), (1, 1)]
    assert pair_tool_calls([{"name": "NONE_EXPECTED"}], [{"name": "NONE_EXPECTED"}]) == [
        (0, None),
        (None, 0),
    ]
    assert pair_tool_calls([], []) == []


def test_pair_tool_calls_rejects_bad_arguments() -> None:
    """An unknown strategy or a non-list input raises naming the parameter."""
    with pytest.raises(ValueError, match="strategy must be 'optimal' or 'greedy'"):
        pair_tool_calls([], [], strategy="best")
    with pytest.raises(TypeError, match="actual must be a list of tool-call dicts"):
        pair_tool_calls([], [1])  # type: ignore[list-item]


def _pair_score(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[int, int, int]:
    status, comp = compare_args_structural(expected, actual)
    keys = sum(len(bucket) for bucket in comp.values())
    agreement = 1000 if keys == 0 else (1000 * len(comp["matching"])) // keys
    return 1, int(status == "exact"), agreement


def _total(scores: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return (sum(s[0] for s in scores), sum(s[1] for s in scores), sum(s[2] for s in scores))


def _assignments(options: list[list[int]], used: frozenset[int] = frozenset()) -> Any:
    """Every injective partial map from expected rows to allowed actual columns."""
    if not options:
        yield []
        return
    for rest in _assignments(options[1:], used):
        yield [None, *rest]
    for j in options[0]:
        if j not in used:
            for rest in _assignments(options[1:], used | {j}):
                if j not in rest:
                    yield [j, *rest]


calls = st.builds(
    lambda name, args: {"name": name, "arguments": args},
    st.sampled_from(["t", "u"]),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 1), max_size=2),
)


@given(expected=st.lists(calls, max_size=5), actual=st.lists(calls, max_size=5))
def test_pair_tool_calls_optimal_beats_every_assignment(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> None:
    """No same-name assignment (brute force) scores above the optimal pairing, lexicographically
    by (pairs, exact pairs, agreement); greedy finds as many pairs but may score lower."""
    scores = {
        (i, j): _pair_score(e, a)
        for i, e in enumerate(expected)
        for j, a in enumerate(actual)
        if e["name"] == a["name"]
    }
    pairs = pair_tool_calls(expected, actual)
    assert [i for i, _ in pairs if i is not None] == list(range(len(expected)))
    assert sorted(j for _, j in pairs if j is not None) == list(range(len(actual)))
    chosen = [(i, j) for i, j in pairs if i is not None and j is not None]
    best = _total([scores[pair] for pair in chosen])
    options = [[j for j in range(len(actual)) if (i, j) in scores] for i in range(len(expected))]
    for assignment in _assignments(options):
        picked = [scores[(i, j)] for i, j in enumerate(assignment) if j is not None]
        assert _total(picked) <= best
    greedy = pair_tool_calls(expected, actual, strategy="greedy")
    assert sum(1 for i, j in greedy if i is not None and j is not None) == best[0]


@given(
    weights=st.integers(1, 4).flatmap(
        lambda rows: st.integers(rows, 5).flatmap(
            lambda cols: st.lists(
                st.lists(st.integers(-5, 20), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_hungarian_matches_brute_force(weights: list[list[int]]) -> None:
    """The assignment solver finds the maximum total weight on any small rectangular matrix."""
    assignment = _hungarian_max(weights)
    assert len(set(assignment)) == len(weights)
    total = sum(row[j] for row, j in zip(weights, assignment, strict=True))
    best = max(
        sum(row[j] for row, j in zip(weights, perm, strict=False))
        for perm in itertools.permutations(range(len(weights[0])), len(weights))
    )
    assert total == best

"""Every row of protocol.md §6 tables and every API-reference comparator example."""

from __future__ import annotations

from typing import Any

import pytest

from ashr_labs._matching import (
    compare_args_structural,
    compare_tool_args,
    extract_tool_args,
    fuzzy_str_match,
    strip_markdown,
    text_similarity,
    tokenize,
)


def _items(notes: str | None) -> set[str]:
    return set(notes.split("; ")) if notes else set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**Bold** and [link](https://x.com)", "Bold and link"),
        ("# Title\n\n- item one\n* item two\n+ item three", "Title item one item two item three"),
        ("***bold italic*** and *it* and __under__", "bold italic and it and __under__"),
        ("a*b*c", "abc"),
        ("2 * 3 * 4", "2 3 4"),
        ("[a](b) [c](d e)", "a c"),
        ("![alt](u)", "!alt"),
        ("`code` ~~strike~~", "`code` ~~strike~~"),
        ("1. first\n2. second", "1. first 2. second"),
        ("**unclosed", "**unclosed"),
        ("##NoSpace", "##NoSpace"),
        ("####### seven", "####### seven"),
        ("***", "***"),
    ],
)
def test_strip_markdown_table(text: str, expected: str) -> None:
    """§6.1 rows."""
    assert strip_markdown(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Order **ORD-123** shipped!", ["order", "ord123", "shipped"]),
        ("Hello, World!", ["hello", "world"]),
        ("Café déjà-vu", ["café", "déjàvu"]),
        ("snake_case_word", ["snakecaseword"]),
        ("$19.99 on 2024-01-15", ["1999", "on", "20240115"]),
        ("it's O'Brien's", ["its", "obriens"]),
        ("ÜBER—dash – en", ["über—dash", "–", "en"]),
    ],
)
def test_tokenize_table(text: str, expected: list[str]) -> None:
    """§6.2 rows."""
    assert tokenize(text) == expected


def _words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def _shared(n_a: int, n_b: int, shared: int) -> tuple[str, str]:
    common = _words("c", shared)
    return f"{common} {_words('a', n_a - shared)}", f"{common} {_words('b', n_b - shared)}"


@pytest.mark.parametrize(
    ("a", "b", "threshold", "expected"),
    [
        ("Customer wants a refund", "customer wants refund", None, True),
        ("apple banana", "cherry grape", None, False),
        ("", "anything at all", None, True),
        ("!!!", "anything at all", None, True),
        ("anything", "", None, True),
        ("ORD-123", "ord123", None, True),
        ("ord 123", "ORD-123", None, False),
        ("New-York", "new york", None, False),
        ("snake_case", "snake case", None, False),
        ("alpha beta gamma", "alpha delta epsilon", None, False),
        ("alpha beta gamma delta eps", "alpha beta x y z", None, True),
        (*_shared(7, 8, 3), None, False),
        (*_shared(7, 7, 3), None, True),
        (*_shared(10, 10, 5), None, False),
        (*_shared(10, 10, 6), None, True),
        ("cat", "concatenate", None, True),
        ("a b c", "a b d", 0.9, False),
        ("a b c", "a b d", 0.6, True),
    ],
)
def test_fuzzy_str_match_table(a: str, b: str, threshold: float | None, expected: bool) -> None:
    """§6.3 rows, including the adaptive thresholds at each boundary."""
    assert fuzzy_str_match(a, b, threshold) is expected
    assert fuzzy_str_match(b, a, threshold) is expected


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ({"arguments": {"a": 1}, "arguments_json": '{"b": 2}'}, {"a": 1}),
        ({"arguments": "notdict", "arguments_json": '{"b": 2}'}, {"b": 2}),
        ({"arguments_json": "bad json"}, {}),
        ({"arguments_json": None}, {}),
        ({"arguments_json": ""}, {}),
        ({"arguments_json": []}, {}),
        ({"arguments_json": {"x": 1}}, {"x": 1}),
        ({"arguments_json": "[1,2]"}, [1, 2]),
        ({}, {}),
        ({"arguments_json": '{"order_id": "ORD-123"}'}, {"order_id": "ORD-123"}),
        ({"arguments": {"order_id": "ORD-123"}}, {"order_id": "ORD-123"}),
    ],
)
def test_extract_tool_args_table(call: dict[str, Any], expected: Any) -> None:
    """§6.4 examples and the API reference's two examples."""
    assert extract_tool_args(call) == expected


@pytest.mark.parametrize(
    ("expected", "actual", "status", "items"),
    [
        ({"order_id": "ORD-123"}, {"order_id": "ORD-123", "extra": "field"}, "exact", set()),
        (
            {"order_id": "ORD-123", "reason": "damaged item"},
            {"order_id": "ORD-999", "reason": "item was damaged"},
            "partial",
            {"'order_id': expected='ORD-123' actual='ORD-999'"},
        ),
        ({"a": "apple"}, {"a": "zebra"}, "mismatch", {"'a': expected='apple' actual='zebra'"}),
        ({}, {"a": 1}, "exact", set()),
        ({"a": None}, {"a": None}, "mismatch", {"extra arg 'a'=None"}),
        ({"a": 1}, {"a": True}, "exact", set()),
        ({"a": 1}, {"a": 1.0}, "exact", set()),
        ({"a": "1"}, {"a": 1}, "mismatch", {"'a': expected=1 actual=1"}),
        ({"a": "x"}, {}, "mismatch", {"missing arg 'a'"}),
        ({"a": "x", "b": "y"}, {"a": "x"}, "partial", {"missing arg 'b'"}),
        (
            {"a": "hello there", "b": 2, "c": None, "d": "x"},
            {"a": "goodbye", "b": 3, "e": "extra"},
            "mismatch",
            {
                "'a': expected='hello there' actual='goodbye'",
                "'b': expected=2 actual=3",
                "extra arg 'c'=None",
                "missing arg 'd'",
                "extra arg 'e'=extra",
            },
        ),
    ],
)
def test_compare_tool_args_table(
    expected: dict[str, Any], actual: dict[str, Any], status: str, items: set[str]
) -> None:
    """§6.5 rows (notes compared as sets) and the API reference's two examples."""
    got_status, notes = compare_tool_args({"arguments": expected}, {"arguments": actual})
    assert got_status == status
    assert _items(notes) == items
    if status == "exact":
        assert notes is None


def test_compare_tool_args_notes_order_is_expected_keys_then_extras() -> None:
    """Our notes have a fixed order: expected keys in order, then keys only in actual."""
    _, notes = compare_tool_args(
        {"arguments": {"z": "one", "a": None, "m": 1}},
        {"arguments": {"q": 5, "z": "two", "m": 2}},
    )
    assert notes == (
        "'z': expected='one' actual='two'; extra arg 'a'=None; "
        "'m': expected=1 actual=2; extra arg 'q'=5"
    )


def test_compare_args_structural_rows() -> None:
    """§6.6 rows."""
    status, comp = compare_args_structural(
        {"name": "lookup", "arguments_json": '{"a": 1, "b": "x"}'},
        {"name": "lookup", "arguments": {"b": "x", "a": 1}},
    )
    assert status == "exact"
    assert comp == {
        "matching": {"a": {"expected": 1, "actual": 1}, "b": {"expected": "x", "actual": "x"}},
        "different": {},
        "missing": {},
        "extra": {},
    }
    status, comp = compare_args_structural(
        {"name": "lookup", "arguments": {"a": 1, "b": "x", "c": [1]}},
        {"tool_name": "lookup", "arguments": {"a": 1.0, "b": "X", "d": None}},
    )
    assert status == "partial"
    assert comp == {
        "matching": {"a": {"expected": 1, "actual": 1.0}},
        "different": {"b": {"expected": "x", "actual": "X"}},
        "missing": {"c": {"expected": [1]}},
        "extra": {"d": {"actual": None}},
    }
    empty: dict[str, dict[str, Any]] = {"matching": {}, "different": {}, "missing": {}, "extra": {}}
    assert compare_args_structural({"name": "x"}, {"name": "NOT_CALLED"}) == ("mismatch", empty)
    assert compare_args_structural({"name": "NONE_EXPECTED"}, {"name": "x"}) == ("mismatch", empty)
    assert compare_args_structural({"name": "a"}, {"name": "b"}) == ("mismatch", empty)
    assert compare_args_structural({}, {}) == ("exact", empty)


def test_compare_args_structural_key_order_is_deterministic() -> None:
    """Bucket keys come in expected order, then actual-only keys."""
    _, comp = compare_args_structural(
        {"name": "t", "arguments": {"z": 1, "a": 2, "m": 3}},
        {"name": "t", "arguments": {"y": 0, "m": 3, "z": 9}},
    )
    assert list(comp["different"]) == ["z"]
    assert list(comp["missing"]) == ["a"]
    assert list(comp["matching"]) == ["m"]
    assert list(comp["extra"]) == ["y"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            "Your order ORD-123 has shipped and is on the way",
            "Order ORD-123 has been shipped and is in transit",
            0.93,
        ),
        ("Refund REF-42 issued for $19.99", "Your refund REF-42 of $19.99 was credited", 0.81),
        ("Delivered on 2024-01-15", "It was delivered 2024-01-15", 0.88),
        ("Track at https://track.ups.com/abc123", "tracking: https://track.ups.com/abc123", 0.71),
        ("The item is in stock", "It is available at the store", 0.42),
        ("Order ORD-5 is out of stock", "ORD-5 is unavailable right now", 0.67),
        ("I restored the file", "Visit our store", 0.10),
        ("Escalating to manual review", "This needs escalation", 0.10),
        ("ORD-1 ORD-2", "ORD-1", 0.81),
        ("price $5.", "price $5", 1.0),
        ("We processed your refund", "Your refund is processing", 0.60),
        ("**Refund** of $20.00 approved", "Your refund of $20.00 was approved", 1.0),
        ("Hello world", "hello WORLD!!", 1.0),
        ("the the the", "the", 1.0),
        ("", "hello", 0.0),
        ("!!!", "hello", 0.0),
        ("a b c", "x y z", 0.0),
    ],
)
def test_text_similarity_table(a: str, b: str, expected: float) -> None:
    """§6.7 rows, including the API reference example the seed gets wrong (0.78 → 0.93)."""
    assert text_similarity(a, b) == expected


@pytest.mark.parametrize("func", [strip_markdown, tokenize])
def test_text_functions_reject_non_strings(func: Any) -> None:
    """A non-string is a TypeError naming the parameter, not an AttributeError."""
    with pytest.raises(TypeError, match="text must be a str, got int"):
        func(5)


def test_argument_comparators_name_bad_inputs() -> None:
    """Non-dict tool calls and non-object arguments raise TypeErrors saying what was expected."""
    with pytest.raises(TypeError, match="tool_call must be a dict"):
        extract_tool_args("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="actual tool call arguments must be a JSON object"):
        compare_tool_args({"arguments": {"a": 1}}, {"arguments_json": "[1]"})
    with pytest.raises(TypeError, match="b must be a str"):
        fuzzy_str_match("a", None)  # type: ignore[arg-type]

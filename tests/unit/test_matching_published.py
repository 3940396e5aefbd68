"""Our comparators against the PUBLISHED 0.2.1 ones on a Hypothesis corpus, plus properties.

The published functions run in one child process (``tests/support/published_comparators.py``);
notes are compared as sets of ``"; "`` items because the package orders them by hash.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401  (registers and loads the "ci" profile)
from ashr_labs import _matching
from tests.support.published_client import published_client_path
from tests.support.published_comparators import PublishedComparators

_FRAGMENTS = [
    "ORD-12",
    "ord-7",
    "REF-3",
    "$19.99",
    "$5.",
    "2024-01-15",
    "track.ups.com/ab1",
    "https://track.ups.com/x9",
    "refund",
    "credited",
    "shipped",
    "in transit",
    "store",
    "restored",
    "unavailable",
    "stock",
    "processing",
    "escalation",
    "manual review",
    "broken",
    "**",
    "*",
    "***",
    "# ",
    "## ",
    "- ",
    "+ ",
    "\n",
    "\n\n",
    "[a](b)",
    "[x](",
    "__u__",
    "_",
    "Café",
    "ÜBER",
    "—",
    "–",
    "ß",
    "O'Brien's",
    "the",
    "order",
    "Order",
    "a",
    "b",
    " ",
    "\t",
]
_ALPHABET = string.ascii_letters + string.digits + " \n\t*#-+[]()!_.,$'/:" + "éÜ—–ß"

texts = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(alphabet=_ALPHABET, max_size=8)), max_size=8
).map("".join)
words = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "Alpha!", "x", "y"]), max_size=12
).map(" ".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5, -1.5]),
    texts,
    words,
)
values = st.one_of(
    scalars,
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["k", "j"]), st.integers(0, 2), max_size=2),
)
arg_dicts = st.dictionaries(
    st.sampled_from(["a", "b", "c", "order_id", "reason"]), values, max_size=4
)
names = st.sampled_from(["lookup", "refund", "NOT_CALLED", "NONE_EXPECTED", "", None])


@st.composite
def tool_calls(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {}
    name_key = draw(st.sampled_from(["name", "tool_name", "both", "none"]))
    if name_key in ("name", "both"):
        call["name"] = draw(names)
    if name_key in ("tool_name", "both"):
        call["tool_name"] = draw(names)
    args = draw(arg_dicts)
    form = draw(st.sampled_from(["arguments", "json", "both", "bad", "list", "none"]))
    if form in ("arguments", "both"):
        call["arguments"] = args
    if form in ("json", "both"):
        call["arguments_json"] = json.dumps(draw(arg_dicts) if form == "both" else args)
    if form == "bad":
        call["arguments_json"] = draw(st.sampled_from(["not json", "", "{", "null", "0"]))
    if form == "list":
        call["arguments_json"] = "[1, 2]"
    return call


@pytest.fixture(scope="module")
def published() -> Iterator[PublishedComparators]:
    with PublishedComparators(published_client_path()) as child:
        yield child


def _ours(fn: str, *args: Any) -> dict[str, Any]:
    try:
        result = getattr(_matching, fn)(*args)
    except TypeError as exc:
        return {"error": "TypeError", "message": str(exc)}
    return {"ok": json.loads(json.dumps(result))}


def _assert_same(published: PublishedComparators, fn: str, *args: Any) -> None:
    theirs = published.call(fn, *args)
    ours = _ours(fn, *args)
    if "error" in theirs:
        # The package fails with a raw AttributeError on non-object arguments; we raise a
        # TypeError that says what was expected.
        assert theirs["error"] == "AttributeError", theirs
        assert ours["error"] == "TypeError", ours
        return
    assert "ok" in ours, ours
    if fn == "compare_tool_args":
        (status, notes), (their_status, their_notes) = ours["ok"], theirs["ok"]
        assert status == their_status
        assert (notes is None) == (their_notes is None)
        assert set((notes or "").split("; ")) == set((their_notes or "").split("; "))
    else:
        assert ours["ok"] == theirs["ok"]


@given(text=texts)
def test_strip_markdown_and_tokenize_equal_published(
    published: PublishedComparators, text: str
) -> None:
    """strip_markdown and tokenize give the published results on generated markdown-ish text."""
    _assert_same(published, "strip_markdown", text)
    _assert_same(published, "tokenize", text)


@given(
    a=st.one_of(texts, words),
    b=st.one_of(texts, words),
    threshold=st.one_of(st.none(), st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0])),
)
def test_fuzzy_str_match_equals_published(
    published: PublishedComparators, a: str, b: str, threshold: float | None
) -> None:
    """fuzzy_str_match gives the published answer, adaptive and explicit thresholds alike."""
    _assert_same(published, "fuzzy_str_match", a, b, threshold)


@given(a=texts, b=texts)
def test_text_similarity_equals_published(published: PublishedComparators, a: str, b: str) -> None:
    """text_similarity is bit-identical to the published score (entities and concepts included)."""
    _assert_same(published, "text_similarity", a, b)


@given(expected=tool_calls(), actual=tool_calls())
def test_argument_comparators_equal_published(
    published: PublishedComparators, expected: dict[str, Any], actual: dict[str, Any]
) -> None:
    """extract_tool_args, compare_tool_args (notes as sets) and compare_args_structural agree."""
    _assert_same(published, "extract_tool_args", expected)
    _assert_same(published, "compare_tool_args", expected, actual)
    _assert_same(published, "compare_args_structural", expected, actual)


@given(a=texts, b=texts)
def test_text_similarity_properties(a: str, b: str) -> None:
    """Bounded in [0, 1], symmetric, deterministic; a text with tokens is 1.0 against itself."""
    score = _matching.text_similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == _matching.text_similarity(b, a) == _matching.text_similarity(a, b)
    if _matching.tokenize(a):
        assert _matching.text_similarity(a, a) == 1.0


@given(a=st.one_of(texts, words), b=st.one_of(texts, words))
def test_fuzzy_and_tokenize_properties(a: str, b: str) -> None:
    """fuzzy_str_match is symmetric and reflexive; tokens hold no space or ASCII punctuation."""
    assert _matching.fuzzy_str_match(a, b) == _matching.fuzzy_str_match(b, a)
    assert _matching.fuzzy_str_match(a, a)
    for token in _matching.tokenize(a):
        assert token and not any(ch in string.punctuation or ch.isspace() for ch in token)


@given(expected=tool_calls(), actual=tool_calls())
def test_structural_properties(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Deterministic; buckets partition the key union in a fixed order; exact iff only matches."""
    try:
        first = _matching.compare_args_structural(expected, actual)
    except TypeError:
        return
    assert first == _matching.compare_args_structural(expected, actual)
    status, comparison = first
    keys = [key for bucket in comparison.values() for key in bucket]
    assert len(keys) == len(set(keys))
    if status == "exact":
        assert not (comparison["different"] or comparison["missing"] or comparison["extra"])

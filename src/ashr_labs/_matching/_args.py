"""Tool-call argument comparators: extraction, fuzzy comparison and the structural diff.

Results equal the published package's (protocol.md §6.4–§6.6), except that where the package
iterates a hash set we use a fixed order: the expected keys in order, then keys only in actual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ._text import fuzzy_str_match

__all__ = [
    "NONE_EXPECTED",
    "NOT_CALLED",
    "ArgumentComparison",
    "call_name",
    "compare_args_structural",
    "compare_tool_args",
    "empty_comparison",
    "extract_tool_args",
]

NOT_CALLED = "NOT_CALLED"
"""Actual-side name of an expected tool call the agent never made (protocol §5)."""
NONE_EXPECTED = "NONE_EXPECTED"
"""Expected-side name of a tool call the agent made that the scenario did not expect."""

ArgumentComparison = dict[str, dict[str, dict[str, Any]]]
"""``{"matching": {k: {"expected", "actual"}}, "different": {...}, "missing": {k: {"expected"}},
"extra": {k: {"actual"}}}`` as in protocol §6.6."""


def empty_comparison() -> ArgumentComparison:
    """A fresh comparison with the four buckets empty."""
    return {"matching": {}, "different": {}, "missing": {}, "extra": {}}


def _require_mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict (a tool call), got {type(value).__name__}")
    return value


def extract_tool_args(tool_call: Mapping[str, Any]) -> Any:
    """The arguments of a tool call, from ``arguments`` (a dict wins) or ``arguments_json``.

    A JSON string is parsed (invalid JSON gives ``{}``); a non-string ``arguments_json`` is
    returned as it is, falsy values giving ``{}``. The result is usually a dict but mirrors the
    data: ``'[1, 2]'`` gives ``[1, 2]`` (protocol §6.4).
    """
    call = _require_mapping(tool_call, "tool_call")
    arguments = call.get("arguments")
    if isinstance(arguments, dict):
        return arguments
    raw = call.get("arguments_json", "{}")
    if not isinstance(raw, str):
        return raw or {}
    try:
        return json.loads(raw)
    except ValueError:
        return {}


def _argument_object(tool_call: Mapping[str, Any], side: str) -> dict[str, Any]:
    arguments = extract_tool_args(tool_call)
    if not isinstance(arguments, dict):
        raise TypeError(
            f"{side} tool call arguments must be a JSON object, got {type(arguments).__name__}"
        )
    return arguments


def _union_keys(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> Iterator[str]:
    yield from expected
    yield from (key for key in actual if key not in expected)


def _values_agree(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return fuzzy_str_match(expected, actual)
    return bool(expected == actual)


def _diff_item(key: str, expected: Any, actual: Any) -> str | None:
    if expected is None:
        return f"extra arg '{key}'={actual}"
    if actual is None:
        return f"missing arg '{key}'"
    if _values_agree(expected, actual):
        return None
    if isinstance(expected, str) and isinstance(actual, str):
        return f"'{key}': expected='{expected}' actual='{actual}'"
    return f"'{key}': expected={expected} actual={actual}"


def compare_tool_args(
    expected: Mapping[str, Any], actual: Mapping[str, Any]
) -> tuple[str, str | None]:
    """Compare two tool calls' arguments: ``(match_status, divergence_notes)`` (protocol §6.5).

    Strings compare with ``fuzzy_str_match``, other values with ``==``; an expected key that is
    absent or null in actual never matches. Extra actual arguments do not change the status,
    but once it is not ``"exact"`` the notes (``"; "``-separated) also list them.
    """
    if not extract_tool_args(expected) and not extract_tool_args(actual):
        return "exact", None  # also when a side's arguments are JSON null, [] or 0
    wanted = _argument_object(expected, "expected")
    if not wanted:
        return "exact", None  # nothing asked for, whatever was sent
    got = _argument_object(actual, "actual")
    hits = [
        got.get(key) is not None and _values_agree(value, got[key]) for key, value in wanted.items()
    ]
    if all(hits):
        return "exact", None
    status = "partial" if any(hits) else "mismatch"
    items = (_diff_item(key, wanted.get(key), got.get(key)) for key in _union_keys(wanted, got))
    notes = "; ".join(item for item in items if item is not None)
    return status, notes or None


def call_name(tool_call: Mapping[str, Any]) -> Any:
    """A tool call's name: ``name`` when truthy, else ``tool_name``, else ``""``."""
    return tool_call.get("name") or tool_call.get("tool_name", "")


def names_pair(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """Whether the two calls can be compared: same name and neither is a sentinel (§6.6)."""
    expected_name, actual_name = call_name(expected), call_name(actual)
    if actual_name == NOT_CALLED or expected_name == NONE_EXPECTED:
        return False
    return bool(expected_name == actual_name)


def compare_args_structural(
    expected: Mapping[str, Any], actual: Mapping[str, Any]
) -> tuple[str, ArgumentComparison]:
    """Key-by-key diff of two tool calls: ``(match_status, argument_comparison)`` (§6.6).

    ``"mismatch"`` with empty buckets when the names differ or a side is the ``NOT_CALLED`` /
    ``NONE_EXPECTED`` sentinel; otherwise ``"exact"`` when every key is in both with equal
    (``==``) values, else ``"partial"``. No fuzzy matching and no scores.
    """
    _require_mapping(expected, "expected")
    _require_mapping(actual, "actual")
    comparison = empty_comparison()
    if not names_pair(expected, actual):
        return "mismatch", comparison
    wanted = _argument_object(expected, "expected")
    got = _argument_object(actual, "actual")
    for key in _union_keys(wanted, got):
        if key not in got:
            comparison["missing"][key] = {"expected": wanted[key]}
        elif key not in wanted:
            comparison["extra"][key] = {"actual": got[key]}
        else:
            bucket = "matching" if wanted[key] == got[key] else "different"
            comparison[bucket][key] = {"expected": wanted[key], "actual": got[key]}
    return status_of(comparison), comparison


def status_of(comparison: ArgumentComparison) -> str:
    """``"exact"`` when nothing is different, missing or extra, else ``"partial"``."""
    if comparison["different"] or comparison["missing"] or comparison["extra"]:
        return "partial"
    return "exact"

"""Schema-aware argument comparison: like ``compare_args_structural``, but value equality follows
the tool's JSON Schema, so ``"2024-01-15T10:00:00Z"`` equals ``"2024-01-15T10:00:00+00:00"``
and ``0.1 + 0.2`` equals ``0.3``.

Value rules, per property schema (``properties`` of the tool's ``parameters``):

* ``enum`` values, strings with a ``pattern``/``format`` other than dates (ids, emails, uuids)
  and every other single-token string compare exactly;
* ``format: date`` / ``date-time`` strings, and any string both sides of which parse as ISO 8601
  (when the schema says nothing), compare as dates / instants (aware datetimes in UTC);
* free text (a string holding whitespace, with no enum, pattern or format) compares after
  case-folding and collapsing whitespace;
* numbers (``bool`` is not a number) are equal within ``number_tolerance`` absolute, or that
  fraction of the larger magnitude;
* arrays compare in order, or as multisets when the schema says ``uniqueItems: true``;
* objects compare key by key with the nested ``properties`` schemas, defaults included;
* a key missing on one side whose other-side value equals the schema ``default`` is matching
  (recorded with the default standing in for the missing side).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from ._args import (
    ArgumentComparison,
    _argument_object,
    _require_mapping,
    _union_keys,
    empty_comparison,
    names_pair,
    status_of,
)
from ._iso import parse_iso_datetime

__all__ = ["compare_args_with_schema"]

_DATE_FORMATS = frozenset({"date", "date-time"})
_MISSING = object()


def _parse_instant(text: str) -> datetime | date | None:
    """An ISO 8601 date or datetime (``Z`` accepted), or None when ``text`` is not one."""
    candidate = text.strip()
    if len(candidate) < 8 or not candidate[:4].isdigit():
        return None
    try:
        moment = parse_iso_datetime(re.sub(r"[zZ]$", "+00:00", candidate))
    except ValueError:
        return None
    if len(candidate) <= 10 and "T" not in candidate.upper():
        return moment.date()
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    return moment


def _dates_equal(expected: str, actual: str, fmt: str | None) -> bool | None:
    left, right = _parse_instant(expected), _parse_instant(actual)
    if left is None or right is None:
        return None
    if fmt == "date":
        left = left.date() if isinstance(left, datetime) else left
        right = right.date() if isinstance(right, datetime) else right
    if type(left) is not type(right):
        return False
    if isinstance(left, datetime) and isinstance(right, datetime):
        if (left.tzinfo is None) != (right.tzinfo is None):
            return False
    return bool(left == right)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_equal(expected: float, actual: float, tolerance: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if expected == actual:
        return True
    return abs(expected - actual) <= tolerance * max(1.0, abs(expected), abs(actual))


def _free_text(value: str, schema: Mapping[str, Any]) -> bool:
    constrained = "enum" in schema or "pattern" in schema or "format" in schema
    return not constrained and len(value.split()) > 1


def _strings_equal(expected: str, actual: str, schema: Mapping[str, Any]) -> bool:
    if "enum" in schema:
        return expected == actual
    fmt = schema.get("format")
    if fmt in _DATE_FORMATS or (fmt is None and "pattern" not in schema):
        same_moment = _dates_equal(expected, actual, fmt if isinstance(fmt, str) else None)
        if same_moment is not None:
            return same_moment
    if _free_text(expected, schema):
        return " ".join(expected.casefold().split()) == " ".join(actual.casefold().split())
    return expected == actual


def _arrays_equal(
    expected: list[Any], actual: list[Any], schema: Mapping[str, Any], tolerance: float
) -> bool:
    if len(expected) != len(actual):
        return False
    items = _subschema(schema.get("items"))
    if not schema.get("uniqueItems"):
        return all(_equal(e, a, items, tolerance) for e, a in zip(expected, actual, strict=True))
    remaining = list(actual)
    for item in expected:
        index = next(
            (i for i, other in enumerate(remaining) if _equal(item, other, items, tolerance)),
            None,
        )
        if index is None:
            return False
        del remaining[index]
    return True


def _objects_equal(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    schema: Mapping[str, Any],
    tolerance: float,
) -> bool:
    properties = _properties(schema)
    for key in _union_keys(expected, actual):
        prop = _subschema(properties.get(key))
        left, right = expected.get(key, _MISSING), actual.get(key, _MISSING)
        if left is _MISSING or right is _MISSING:
            present = right if left is _MISSING else left
            if not ("default" in prop and _equal(present, prop["default"], prop, tolerance)):
                return False
        elif not _equal(left, right, prop, tolerance):
            return False
    return True


def _equal(expected: Any, actual: Any, schema: Mapping[str, Any], tolerance: float) -> bool:
    """Schema-aware equality of two JSON values."""
    if isinstance(expected, str) and isinstance(actual, str):
        return _strings_equal(expected, actual, schema)
    if _is_number(expected) and _is_number(actual):
        return _numbers_equal(float(expected), float(actual), tolerance)
    if isinstance(expected, list) and isinstance(actual, list):
        return _arrays_equal(expected, actual, schema, tolerance)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return _objects_equal(expected, actual, schema, tolerance)
    return type(expected) is type(actual) and bool(expected == actual)


def _subschema(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    return _subschema(schema.get("properties"))


def compare_args_with_schema(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    *,
    number_tolerance: float = 1e-6,
) -> tuple[str, ArgumentComparison]:
    """Diff two tool calls' arguments using the tool's parameter ``schema`` (module docstring).

    Returns ``(match_status, argument_comparison)`` shaped like ``compare_args_structural``:
    ``"mismatch"`` with empty buckets when names differ or a sentinel is involved, else
    ``"exact"`` or ``"partial"``. ``schema`` may be None (values are then compared by type).
    """
    _require_mapping(expected, "expected")
    _require_mapping(actual, "actual")
    if schema is not None and not isinstance(schema, Mapping):
        raise TypeError(f"schema must be a dict (JSON Schema) or None, got {type(schema).__name__}")
    if not _is_number(number_tolerance) or not number_tolerance >= 0:
        raise ValueError(f"number_tolerance must be a number >= 0, got {number_tolerance!r}")
    comparison = empty_comparison()
    if not names_pair(expected, actual):
        return "mismatch", comparison
    wanted = _argument_object(expected, "expected")
    got = _argument_object(actual, "actual")
    properties = _properties(schema or {})
    for key in _union_keys(wanted, got):
        prop = _subschema(properties.get(key))
        default = prop.get("default", _MISSING)
        if key in wanted and key in got:
            same = _equal(wanted[key], got[key], prop, number_tolerance)
            bucket = "matching" if same else "different"
            comparison[bucket][key] = {"expected": wanted[key], "actual": got[key]}
        elif key in wanted:
            if default is not _MISSING and _equal(wanted[key], default, prop, number_tolerance):
                comparison["matching"][key] = {"expected": wanted[key], "actual": default}
            else:
                comparison["missing"][key] = {"expected": wanted[key]}
        elif default is not _MISSING and _equal(default, got[key], prop, number_tolerance):
            comparison["matching"][key] = {"expected": default, "actual": got[key]}
        else:
            comparison["extra"][key] = {"actual": got[key]}
    return status_of(comparison), comparison

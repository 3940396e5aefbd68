"""Parameter checks for RPC handlers, each raising ``RpcError(422, "<field>: expected ...")``.

The published client sends JSON, so types are JSON's: a bool is not an integer, ``"7"`` is not an
integer and ``7.0`` is not one either (F55). Ids and limits must fit SQLite's signed 64 bits (F49).
``got`` is shown as JSON, cut to 60 characters, or ``nothing`` when the key is absent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from ._rpc import RpcError

__all__ = [
    "INT64_MAX",
    "MISSING",
    "describe",
    "fail",
    "opt_bool",
    "opt_float",
    "opt_int",
    "opt_list",
    "opt_obj",
    "opt_str",
    "req_int",
    "req_list",
    "req_obj",
    "req_str",
]

INT64_MAX = 2**63 - 1


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Sentinel for an absent key (distinct from JSON null)."""


def describe(value: Any) -> str:
    """How a received value is shown in an error message."""
    if value is MISSING:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(name: str, expected: str, value: Any) -> RpcError:
    """The 422 for field ``name``: what was expected and what came."""
    return RpcError(422, f"{name}: expected {expected}, got {describe(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in_range(name: str, value: Any, lo: int, hi: int) -> int:
    if not _is_int(value) or not lo <= value <= hi:
        raise fail(name, f"an integer {lo}–{hi}", value)
    return int(value)


def req_int(body: Mapping[str, Any], name: str, *, lo: int = 1, hi: int = INT64_MAX) -> int:
    """A required integer in ``lo..hi`` (ids default to 1..2^63-1)."""
    return _int_in_range(name, body.get(name, MISSING), lo, hi)


def opt_int(
    body: Mapping[str, Any],
    name: str,
    *,
    default: int | None = None,
    lo: int = 1,
    hi: int = INT64_MAX,
) -> int | None:
    """An optional integer in ``lo..hi``; absent or null gives ``default``."""
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return default
    return _int_in_range(name, value, lo, hi)


def opt_float(
    body: Mapping[str, Any],
    name: str,
    *,
    default: float | None = None,
    lo: float = -math.inf,
    hi: float = math.inf,
) -> float | None:
    """An optional finite number (ints accepted, bools not) in ``lo..hi``."""
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise fail(name, f"a number {lo}–{hi}", value)
    return float(value)


def _check_str(
    name: str,
    value: Any,
    *,
    max_len: int,
    min_len: int,
    choices: Collection[str] | None,
) -> str:
    if choices is not None:
        if not isinstance(value, str) or value not in choices:
            raise fail(name, "one of " + ", ".join(sorted(choices)), value)
        return value
    if not isinstance(value, str):
        raise fail(name, "a string", value)
    if len(value) > max_len:
        raise RpcError(422, f"{name}: expected at most {max_len} characters, got {len(value)}")
    if len(value) < min_len:
        what = "a non-empty string" if min_len == 1 else f"at least {min_len} characters"
        raise fail(name, what, value)
    return value


def req_str(
    body: Mapping[str, Any],
    name: str,
    *,
    max_len: int = 1000,
    min_len: int = 1,
    choices: Collection[str] | None = None,
) -> str:
    """A required string (non-empty by default) of at most ``max_len`` characters."""
    return _check_str(
        name, body.get(name, MISSING), max_len=max_len, min_len=min_len, choices=choices
    )


def opt_str(
    body: Mapping[str, Any],
    name: str,
    *,
    max_len: int = 1000,
    min_len: int = 0,
    default: str | None = None,
    choices: Collection[str] | None = None,
) -> str | None:
    """An optional string; absent or null gives ``default``."""
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return default
    return _check_str(name, value, max_len=max_len, min_len=min_len, choices=choices)


def opt_bool(body: Mapping[str, Any], name: str, *, default: bool = False) -> bool:
    """An optional JSON boolean (``0``/``1``/``"true"`` are refused); absent or null → default."""
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise fail(name, "a boolean", value)
    return value


def req_obj(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A required JSON object."""
    value = body.get(name, MISSING)
    if not isinstance(value, dict):
        raise fail(name, "an object", value)
    return value


def opt_obj(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """An optional JSON object; absent or null gives None."""
    if body.get(name) is None:
        return None
    return req_obj(body, name)


def req_list(body: Mapping[str, Any], name: str, *, max_len: int = 10_000) -> list[Any]:
    """A required JSON array of at most ``max_len`` items."""
    value = body.get(name, MISSING)
    if not isinstance(value, list):
        raise fail(name, "an array", value)
    if len(value) > max_len:
        raise RpcError(422, f"{name}: expected at most {max_len} items, got {len(value)}")
    return value


def opt_list(body: Mapping[str, Any], name: str, *, max_len: int = 10_000) -> list[Any] | None:
    """An optional JSON array; absent or null gives None."""
    if body.get(name) is None:
        return None
    return req_list(body, name, max_len=max_len)

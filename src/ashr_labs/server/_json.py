"""Parsing request bodies and encoding answers: strict about shape, lenient about values.

Bodies must be one JSON object with a ``function`` key, nested at most 64 deep; the depth is
measured before parsing, so Python's ``RecursionError`` never surfaces (F46). Values SQLite or
strict JSON cannot hold are normalised (F49): ``NaN``/``Infinity`` tokens and overflowing floats
become null, lone surrogates and invalid UTF-8 become U+FFFD. Ranges of ids and limits are the
handlers' business (``_validate``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ._rpc import RpcError

__all__ = ["MAX_DEPTH", "clean_text", "dumps", "nesting_depth", "parse_body", "parse_json"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a body."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
ENVELOPE_MESSAGE = 'body must be a JSON object with a "function" key'


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest bracket nesting in JSON text (strings skipped); stops counting past ``limit``."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _parse_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def clean_text(value: str) -> str:
    """Replace lone surrogates with U+FFFD so the text encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def parse_json(raw: bytes | str) -> Any:
    """Parse any JSON value with the depth guard and value normalisation; RpcError(400) if bad."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RpcError(400, f"{ENVELOPE_MESSAGE}; the body is empty")
    if nesting_depth(text) > MAX_DEPTH:
        raise RpcError(400, f"body nesting deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=lambda _token: None, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise RpcError(
            400, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        # Oversized integer literals (Python's digit limit) and anything the depth scan missed.
        raise RpcError(400, f"body is not valid JSON: {type(exc).__name__}") from None
    return _clean(value)


def parse_body(raw: bytes | str) -> dict[str, Any]:
    """Parse an RPC body: one object whose ``function`` is a non-empty string."""
    value = parse_json(raw)
    if not isinstance(value, dict) or "function" not in value:
        kind = type(value).__name__ if not isinstance(value, dict) else "object without it"
        kind = {"list": "array", "str": "string", "NoneType": "null"}.get(kind, kind)
        raise RpcError(400, f"{ENVELOPE_MESSAGE}; got {kind}")
    function = value["function"]
    if not isinstance(function, str) or not function:
        raise RpcError(
            400, f'"function" must be a non-empty string naming the RPC; {ENVELOPE_MESSAGE}'
        )
    return value


def dumps(value: Any) -> bytes:
    """Encode an answer as compact UTF-8 JSON (non-finite floats as null, never NaN tokens)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="replace")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

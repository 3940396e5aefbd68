"""Argument values drawn from a tool's JSON Schema, for generated scenarios.

``ValueMaker.make(schema, name, mode)`` returns a value that fits ``schema`` (type, enum,
const, format, pattern when a hint fits it, min/max, lengths, nested objects and arrays, the
object's ``required`` list). Hints, the values found in ``context.sample_data.examples`` and the
agent's ``input_schema`` (``example`` and field ``enum``s), are preferred whenever they fit.
Modes: ``typical`` (required properties, plus optional ones now and then), ``full`` (every
property), ``boundary`` (minimum/maximum values and lengths), and ``out_of_range`` via
``violate`` (a value just outside one constraint). Everything comes from the caller's
``random.Random``, so equal seeds give equal values.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

__all__ = ["ValueMaker", "fits", "has_constraint", "schema_type"]

_FIRST = ("Alex", "Maria", "Sam", "Priya", "Jordan", "Chen", "Fatima", "Lukas", "Aiko", "Diego")
_LAST = ("Rivera", "Okafor", "Nguyen", "Schmidt", "Patel", "Kowalski", "Haddad", "Lindqvist")
_CITIES = ("Lisbon", "Austin", "Nairobi", "Osaka", "Toronto", "Berlin", "Melbourne", "Lima")
_WORDS = ("standard", "priority", "account", "update", "request", "issue", "details", "summary")
_REASONS = (
    "item arrived damaged",
    "wrong size delivered",
    "no longer needed",
    "charged twice",
    "late delivery",
    "missing parts",
)
_BASE_DAY = date(2025, 1, 6)


def schema_type(schema: Mapping[str, Any]) -> str:
    """The JSON type a schema describes, inferred when ``type`` is absent or a list."""
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "null")
    if isinstance(declared, str):
        return declared
    if "enum" in schema and schema["enum"]:
        return _json_type(schema["enum"][0])
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "string"


def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, float | None]:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if schema_type(schema) == "integer" else 0.01
    if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
        low = ex_low + step
    if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
        high = ex_high - step
    return (
        low if isinstance(low, (int, float)) and not isinstance(low, bool) else None,
        high if isinstance(high, (int, float)) and not isinstance(high, bool) else None,
    )


def fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` satisfies the parts of ``schema`` this generator understands."""
    if "const" in schema:
        return bool(value == schema["const"])
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema_type(schema)
    actual = _json_type(value)
    if not (actual == kind or (kind == "number" and actual == "integer")):
        return False
    if kind in ("integer", "number"):
        low, high = _bounds(schema)
        return (low is None or value >= low) and (high is None or value <= high)
    if kind == "string":
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    return False
            except re.error:
                return False
        return int(schema.get("minLength", 0)) <= len(value) <= int(schema.get("maxLength", 10**9))
    if kind == "array":
        items = schema.get("items")
        sub = items if isinstance(items, Mapping) else {}
        size_ok = int(schema.get("minItems", 0)) <= len(value) <= int(schema.get("maxItems", 10**9))
        return size_ok and all(fits(item, sub) for item in value)
    if kind == "object":
        required = schema.get("required") or []
        props = schema.get("properties") or {}
        return all(key in value for key in required) and all(
            fits(v, props[k]) for k, v in value.items() if isinstance(props.get(k), Mapping)
        )
    return True


def has_constraint(schema: Mapping[str, Any]) -> bool:
    """Whether ``violate`` can produce an out-of-range value for this schema."""
    kind = schema_type(schema)
    if "enum" in schema and kind == "string":
        return True
    if kind in ("integer", "number"):
        return any(b is not None for b in _bounds(schema))
    if kind == "string":
        return "maxLength" in schema
    if kind == "array":
        return "maxItems" in schema
    return False


class ValueMaker:
    """Draws schema-fitting values; ``hints`` maps property names to candidate values."""

    def __init__(self, rng: random.Random, hints: Mapping[str, list[Any]] | None = None) -> None:
        self.rng = rng
        self.hints = hints or {}

    def make(self, schema: Mapping[str, Any], name: str = "value", mode: str = "typical") -> Any:
        """A value for property ``name`` fitting ``schema`` (modes in the module docstring)."""
        schema = _resolve(schema)
        if "const" in schema:
            return schema["const"]
        if mode != "boundary":
            fitting = [hint for hint in self.hints.get(name, []) if fits(hint, schema)]
            if fitting:
                return self.rng.choice(fitting)
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        if mode == "typical" and "default" in schema and self.rng.random() < 0.2:
            return schema["default"]
        maker = getattr(self, f"_make_{schema_type(schema)}", self._make_string)
        return maker(schema, name, mode)

    def violate(self, schema: Mapping[str, Any], name: str) -> Any:
        """A value just outside one constraint of ``schema`` (check ``has_constraint`` first)."""
        schema = _resolve(schema)
        kind = schema_type(schema)
        if "enum" in schema and kind == "string":
            return f"unknown_{name}"
        if kind in ("integer", "number"):
            low, high = _bounds(schema)
            step = 1 if kind == "integer" else 0.5
            if high is not None:
                return int(high) + 1 if kind == "integer" else high + step
            if low is not None:
                return int(low) - 1 if kind == "integer" else low - step
        if kind == "string" and "maxLength" in schema:
            return "x" * (int(schema["maxLength"]) + 5)
        if kind == "array" and "maxItems" in schema:
            items = schema.get("items")
            sub = items if isinstance(items, Mapping) else {}
            return [self.make(sub, name) for _ in range(int(schema["maxItems"]) + 1)]
        return self.make(schema, name)

    # -- per type -------------------------------------------------------------------------------
    def _make_object(self, schema: Mapping[str, Any], name: str, mode: str) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        value: dict[str, Any] = {}
        for key, sub in props.items():
            include = key in required or mode in ("full", "boundary") or self.rng.random() < 0.35
            if include and isinstance(sub, Mapping):
                value[key] = self.make(sub, key, mode)
        return value

    def _make_array(self, schema: Mapping[str, Any], name: str, mode: str) -> list[Any]:
        items = schema.get("items")
        sub = items if isinstance(items, Mapping) else {}
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 3)))
        size = high if mode == "boundary" else self.rng.randint(low, max(low, min(high, low + 2)))
        singular = name[:-1] if name.endswith("s") else name
        values: list[Any] = []
        for _ in range(size * 4):
            if len(values) == size:
                break
            item = self.make(sub, singular, "full" if mode == "full" else "typical")
            if not (schema.get("uniqueItems") and item in values):
                values.append(item)
        return values

    def _make_boolean(self, schema: Mapping[str, Any], name: str, mode: str) -> bool:
        return self.rng.random() < 0.5

    def _make_null(self, schema: Mapping[str, Any], name: str, mode: str) -> None:
        return None

    def _make_integer(self, schema: Mapping[str, Any], name: str, mode: str) -> int:
        low, high = _bounds(schema)
        lo = int(low) if low is not None else (1 if high is None or high >= 1 else int(high) - 10)
        hi = int(high) if high is not None else lo + _typical_span(name)
        hi = max(lo, hi)
        if mode == "boundary":
            return hi if high is not None or low is None else lo
        multiple = schema.get("multipleOf")
        value = self.rng.randint(lo, hi)
        if isinstance(multiple, int) and multiple > 0:
            value = max(lo, min(hi, value - value % multiple))
        return value

    def _make_number(self, schema: Mapping[str, Any], name: str, mode: str) -> float:
        low, high = _bounds(schema)
        lo = float(low) if low is not None else 1.0
        hi = float(high) if high is not None else lo + float(_typical_span(name) * 5)
        hi = max(lo, hi)
        if mode == "boundary":
            return hi if high is not None or low is None else lo
        return round(self.rng.uniform(lo, hi), 2)

    def _make_string(self, schema: Mapping[str, Any], name: str, mode: str) -> str:
        fmt = schema.get("format")
        text = self._formatted(fmt, name) if isinstance(fmt, str) else None
        if text is None:
            text = self._named(name)
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not fits(text, {"type": "string", "pattern": pattern}):
            text = self._from_pattern(pattern) or text
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        if mode == "boundary" and isinstance(high, int):
            text = (text * (high // max(1, len(text)) + 1))[:high]
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text

    # -- strings --------------------------------------------------------------------------------
    def _formatted(self, fmt: str, name: str) -> str | None:
        rng = self.rng
        day = _BASE_DAY + timedelta(days=rng.randint(0, 300))
        if fmt == "date":
            return day.isoformat()
        if fmt == "date-time":
            moment = datetime(
                day.year,
                day.month,
                day.day,
                rng.randint(8, 18),
                rng.choice((0, 30)),
                tzinfo=timezone.utc,
            )
            return moment.isoformat().replace("+00:00", "Z")
        if fmt == "time":
            return f"{rng.randint(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
        if fmt == "email":
            return f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}@example.com"
        if fmt == "uuid":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if fmt in ("uri", "url"):
            return f"https://example.com/{name.replace('_', '-')}/{rng.randint(100, 999)}"
        if fmt in ("hostname", "idn-hostname"):
            return f"host{rng.randint(1, 99)}.example.com"
        if fmt == "ipv4":
            return f"192.0.2.{rng.randint(1, 254)}"
        return None

    def _named(self, name: str) -> str:
        rng, key = self.rng, name.lower()
        if key == "id" or key.endswith("_id") or name.endswith("Id"):
            stem = re.sub(r"_?id$", "", key) or "item"
            prefix = re.sub(r"[^a-z]", "", stem)[:3].upper() or "ID"
            return f"{prefix}-{rng.randint(10000, 99999)}"
        if "email" in key:
            return self._formatted("email", name) or ""
        if "date" in key or key.endswith("_on") or key == "day":
            return self._formatted("date", name) or ""
        if "phone" in key:
            return f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if key in ("name", "full_name", "customer_name", "patient_name") or key.endswith("_name"):
            return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if "city" in key or "location" in key or "destination" in key:
            return rng.choice(_CITIES)
        if "currency" in key:
            return rng.choice(("USD", "EUR", "GBP"))
        if key in ("reason", "description", "message", "note", "notes", "comment", "details"):
            return rng.choice(_REASONS)
        if key in ("query", "q", "search", "question", "topic"):
            return f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        return f"{key.replace('_', ' ')} {rng.choice(_WORDS)}".strip()

    def _from_pattern(self, pattern: str) -> str | None:
        """A string for simple anchored patterns made of literals, classes and counts."""
        body = pattern.removeprefix("^").removesuffix("$")
        token = re.compile(r"\\d|\[[^\]]+\]|\\w|[A-Za-z0-9_\-:./@ ]")
        out: list[str] = []
        pos = 0
        while pos < len(body):
            match = token.match(body, pos)
            if match is None:
                return None
            atom, pos = match.group(), match.end()
            count_match = re.compile(r"\{(\d+)(?:,(\d+))?\}|\+|\*|\?").match(body, pos)
            count = 1
            if count_match is not None:
                pos = count_match.end()
                text = count_match.group()
                count = (
                    int(count_match.group(1))
                    if count_match.group(1)
                    else (0 if text in ("*", "?") else 3)
                )
            out.extend(self._atom(atom) for _ in range(count))
        candidate = "".join(out)
        return candidate if fits(candidate, {"type": "string", "pattern": pattern}) else None

    def _atom(self, atom: str) -> str:
        if atom == "\\d":
            return self.rng.choice(string.digits)
        if atom == "\\w":
            return self.rng.choice(string.ascii_lowercase)
        if atom.startswith("["):
            chars = _expand_class(atom[1:-1])
            return self.rng.choice(chars) if chars else "x"
        return atom


def _expand_class(body: str) -> str:
    chars: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.append(body[i])
            i += 1
    return "".join(chars)


def _typical_span(name: str) -> int:
    key = name.lower()
    if any(word in key for word in ("quantity", "qty", "count", "guests", "nights", "seats")):
        return 4
    if "age" in key:
        return 60
    return 99


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Flatten ``allOf`` and pick the first ``anyOf``/``oneOf`` branch; non-dicts become {}."""
    if not isinstance(schema, Mapping):
        return {}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            options = [b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]
            if options:
                merged = {k: v for k, v in schema.items() if k != key}
                merged.update(options[0])
                return _resolve(merged)
    parts = schema.get("allOf")
    if isinstance(parts, list):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in parts:
            if isinstance(part, Mapping):
                merged.update(_resolve(part))
        return merged
    return schema

"""Pure helpers behind the observability numbers: timestamps, latency, tokens, tools, percentiles.

The trace store calls these when it writes a trace (to keep per-row derived columns) and when it
answers ``get_observability_analytics``. Keeping the math here, away from SQL, lets the rules be
read in one place and tested with exact numbers.

Rules (documented for users):

- Timestamps are ISO 8601; a value without an offset is UTC. Parseable values are stored in the
  tracing format ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; anything else is kept as given and ignored by
  latency math.
- Tokens come from ``usage``: ``input_tokens``/``output_tokens``, else the older
  ``prompt_tokens``/``completion_tokens``, else ``input``/``output``. Only non-negative integers
  count (``True`` is not a token count).
- A tool call is a span named ``tool:<name>``, or an observation whose metadata holds
  ``gen_ai.tool.name`` or ``tool_name`` (a string). It failed when its level is ``ERROR``.
- p95 is the nearest-rank percentile: the ``ceil(0.95 * n)``-th smallest value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "TIMESTAMP_FORMAT",
    "format_timestamp",
    "json_safe",
    "latency_ms",
    "mean",
    "normalize_timestamp",
    "parse_timestamp",
    "percentile",
    "ratio",
    "since_timestamp",
    "tool_name_of",
    "usage_tokens",
    "utc_now",
]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)

TOOL_PREFIX = "tool:"
TOOL_METADATA_KEYS = ("gen_ai.tool.name", "tool_name")

_USAGE_PAIRS = (
    ("input_tokens", "output_tokens"),
    ("prompt_tokens", "completion_tokens"),
    ("input", "output"),
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """Render an aware datetime in the tracing format (UTC, six fraction digits, ``Z``)."""
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime for an ISO 8601 string, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micros,
            tzinfo=timezone.utc,
        )
        if sign is not None and not zulu:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment = moment - offset if sign == "+" else moment + offset
    except (ValueError, OverflowError):
        return None
    return moment


def normalize_timestamp(value: str) -> str:
    """The tracing form of a parseable timestamp; any other string comes back unchanged."""
    moment = parse_timestamp(value)
    return value if moment is None else format_timestamp(moment)


def since_timestamp(days: int, now: datetime | None = None) -> str:
    """The start of a ``days``-long window ending now, in the stored (sortable) format."""
    return format_timestamp((now or utc_now()) - timedelta(days=days))


def latency_ms(start: object, end: object) -> float | None:
    """Milliseconds from ``start`` to ``end``; ``None`` unless both parse and end ≥ start."""
    first, last = parse_timestamp(start), parse_timestamp(end)
    if first is None or last is None or last < first:
        return None
    delta = last - first
    return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) / 1000.0


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def usage_tokens(usage: object) -> tuple[int, int]:
    """(input, output) token counts from a usage object; zero where the usage says nothing."""
    if not isinstance(usage, Mapping):
        return 0, 0
    for input_key, output_key in _USAGE_PAIRS:
        got_in, got_out = _count(usage.get(input_key)), _count(usage.get(output_key))
        if got_in is not None or got_out is not None:
            return got_in or 0, got_out or 0
    return 0, 0


def tool_name_of(name: object, metadata: object) -> str | None:
    """The tool an observation calls, per the module rules, or ``None`` if it is no tool call."""
    if isinstance(name, str) and name.startswith(TOOL_PREFIX) and len(name) > len(TOOL_PREFIX):
        return name[len(TOOL_PREFIX) :]
    if isinstance(metadata, Mapping):
        for key in TOOL_METADATA_KEYS:
            value = metadata.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    if not items:
        return None
    return round(math.fsum(items) / len(items), 3)


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in (0, 1]); ``None`` for no values."""
    items = sorted(values)
    if not items:
        return None
    rank = max(1, math.ceil(fraction * len(items)))
    return round(items[rank - 1], 3)


def ratio(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 places, 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def json_safe(value: Any) -> Any:
    """Copy of a decoded JSON-like value with non-finite floats as ``None`` (stored as null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

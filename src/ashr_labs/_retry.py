"""Retry policy of the transport: which answers are retried, how long to wait, the deadline.

Pure functions and one small value object, so the policy is testable without a network
(FAULTS.md F08, F37). Waits use exponential backoff with full jitter; a server's ``Retry-After``
(seconds or an HTTP-date) replaces the backoff for that wait.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass

__all__ = [
    "RETRYABLE_STATUSES",
    "Deadline",
    "backoff_delay",
    "is_read_only",
    "parse_retry_after",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses retried with backoff. 500 is not: it means the call itself failed, not the path."""

_READ_ONLY_FUNCTIONS = frozenset({"init", "keep_alive", "get_sdk_notes"})


def is_read_only(function: str) -> bool:
    """True for RPCs that change nothing, so resending one after a lost reply is harmless."""
    return function in _READ_ONLY_FUNCTIONS or function.startswith(("get_", "list_"))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; ``None`` when absent or malformed."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isnan(seconds):
        return seconds if 0 <= seconds < math.inf else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Full-jitter backoff for retry number ``attempt`` (0 for the first retry)."""
    ceiling = min(max_s, base_s * (2 ** min(attempt, 30)))
    return (rng or random).uniform(0.0, ceiling)


@dataclass(frozen=True)
class Deadline:
    """One overall deadline on the monotonic clock, shared by every attempt of a call."""

    expires_at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def allows(self, wait_s: float) -> bool:
        """True when waiting ``wait_s`` still leaves time for another attempt."""
        return time.monotonic() + wait_s < self.expires_at

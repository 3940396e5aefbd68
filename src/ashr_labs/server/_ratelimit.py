"""Token-bucket rate limiting with bounded memory (FAULTS.md F51).

One bucket per key (an API key id, or a client address for failed logins). Buckets live in an
LRU-ordered dict capped at ``max_entries``: a flood of random keys evicts the oldest buckets
instead of growing memory. The clock is injectable so tests need no sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["TokenBucketLimiter"]


class TokenBucketLimiter:
    """``acquire(key)`` spends one token; when none is left it says how long to wait."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_entries < 1:
            raise ValueError("rate_per_s must be > 0, burst >= 1 and max_entries >= 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.max_entries = max_entries
        self._clock = clock
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def acquire(self, key: Hashable) -> float | None:
        """Spend a token for ``key``: None when allowed, else seconds until one is available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = None
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)
        return wait

    def retry_after_header(self, wait: float) -> str:
        """``Retry-After`` value (whole seconds, at least 1) for a wait in seconds."""
        return str(max(1, math.ceil(wait)))

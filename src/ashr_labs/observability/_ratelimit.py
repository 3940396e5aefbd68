"""Rate-limited internal logging: one record per key per interval (FAULTS.md F01, F09, F18).

Tracing runs on hot paths and on the export worker; a broken backend or a misused span must
not flood the user's logs, nor recurse through a user log handler that itself traces.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from .._log import logger as _package_logger
from .._safety import suppress_instrumentation

__all__ = ["LOG_INTERVAL_S", "log_limited", "logger", "reset_limits", "warn_limited"]

logger = _package_logger.getChild("observability")
LOG_INTERVAL_S = 60.0
_MAX_KEYS = 256

_lock = threading.Lock()
_last: dict[str, float] = {}
_local = threading.local()


def log_limited(level: int, key: str, message: str, *args: Any) -> bool:
    """Log ``message`` unless ``key`` was logged within the interval; True when it was logged.

    Re-entrant calls (a user log handler that traces and so logs again) are dropped.
    """
    if getattr(_local, "busy", False):
        return False
    now = time.monotonic()
    with _lock:
        last = _last.get(key)
        if last is not None and now - last < LOG_INTERVAL_S:
            return False
        if len(_last) >= _MAX_KEYS:
            _last.clear()
        _last[key] = now
    _local.busy = True
    try:
        with suppress_instrumentation():
            logger.log(level, message, *args)
    finally:
        _local.busy = False
    return True


def warn_limited(key: str, message: str, *args: Any) -> bool:
    return log_limited(logging.WARNING, key, message, *args)


def _reinit_in_child() -> None:
    # The export worker may have held the lock at fork time (F14); it does not exist here.
    global _lock, _local
    _lock = threading.Lock()
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_in_child)


def reset_limits() -> None:
    """Forget what was logged (tests; a forked child)."""
    with _lock:
        _last.clear()

"""The one guard for the telemetry path: log an internal failure once, never raise it.

``internal_errors`` is both a context manager and a decorator. It swallows ``Exception`` (never
``BaseException``), logs it with its traceback at most once per distinct message, and re-raises
under strict mode (``ASHR_LABS_STRICT=1`` or :func:`set_strict`), which the test suite turns on.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from ._log import logger
from ._settings import ASHR_LABS_STRICT, env_flag

__all__ = [
    "internal_errors",
    "is_instrumentation_suppressed",
    "is_strict",
    "set_strict",
    "suppress_instrumentation",
]

F = TypeVar("F", bound=Callable[..., Any])

_strict_override: bool | None = None
_seen_lock = threading.Lock()
_seen: set[str] = set()
_SEEN_CAP = 256

# OTel documents this context key for exactly this purpose; it is read and written here only.
_SUPPRESS_KEY = otel_context._SUPPRESS_INSTRUMENTATION_KEY  # noqa: SLF001


def set_strict(strict: bool | None) -> None:
    """Force strict mode on or off; ``None`` goes back to the environment variable."""
    global _strict_override
    _strict_override = strict


def is_strict() -> bool:
    if _strict_override is not None:
        return _strict_override
    return env_flag(os.environ.get(ASHR_LABS_STRICT), False)


def _log_once(exc: Exception) -> None:
    try:
        key = f"{type(exc).__name__}:{exc!s:.200}"
    except Exception:  # a hostile __str__: the type alone
        key = type(exc).__name__
    with _seen_lock:
        if key in _seen:
            return
        if len(_seen) >= _SEEN_CAP:
            _seen.clear()
        _seen.add(key)
    with suppress_instrumentation():
        logger.warning("ashr_labs internal error (tracing continues)", exc_info=exc)


class _InternalErrors:
    """Context manager and decorator; see the module docstring."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if is_strict():
            return False
        try:
            _log_once(exc)
        except Exception:
            pass
        return True

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)
            return None

        return guarded  # type: ignore[return-value]


_GUARD = _InternalErrors()


def internal_errors() -> _InternalErrors:
    """Guard a block (``with internal_errors():``) or a function (``@internal_errors()``).

    The guard holds no state, so one shared instance serves every block (hot tracing path).
    """
    return _GUARD


@contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """Mark the current context so OTel instrumentations (ours included) record nothing."""
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_KEY, True))
    try:
        yield
    finally:
        otel_context.detach(token)


def is_instrumentation_suppressed() -> bool:
    return bool(otel_context.get_value(_SUPPRESS_KEY))

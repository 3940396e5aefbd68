"""Trace-wide state shared through the OTel context: open Ashr traces, the current client.

Open traces are found by OTel trace id, so ``update_current_trace`` works from any depth and
from any instrumentation, and a partial trace can be named from its still-open root. The
registry holds its entries weakly: a trace object the user drops without ending takes its entry
with it.

``@observe`` needs a client when no trace is active: it uses the most recently created client
with tracing enabled (held weakly). :func:`context_executor` / :func:`wrap_context` carry the
caller's context into thread pools (FAULTS.md F35); plain threads start new traces.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from opentelemetry import trace as otel_trace

if TYPE_CHECKING:
    from opentelemetry.trace import Span as OtelSpan

    from ._provider import TracingRuntime

__all__ = [
    "TraceState",
    "context_executor",
    "current_runtime",
    "current_trace_state",
    "forget_trace",
    "lookup_trace",
    "register_trace",
    "set_current_runtime",
    "wrap_context",
]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(eq=False)
class TraceState:
    """What a trace carries besides its spans: the root span, the runtime, its tags so far."""

    root: OtelSpan
    runtime: TracingRuntime
    tags: list[str] = field(default_factory=list)
    open_children: set[Any] = field(default_factory=set)
    """Spans/generations made through our API and not ended yet (ended with the trace)."""
    __weakref__: Any = field(default=None, init=False, repr=False, compare=False)


_lock = threading.Lock()
_traces: weakref.WeakValueDictionary[int, TraceState] = weakref.WeakValueDictionary()
_current_runtime: weakref.ref[TracingRuntime] | None = None


def _reinit_lock_in_child() -> None:
    # A thread of the parent may have held the lock at fork time; the child has no such thread.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock_in_child)


def register_trace(trace_id: int, state: TraceState) -> None:
    with _lock:
        _traces[trace_id] = state


def forget_trace(trace_id: int) -> None:
    with _lock:
        _traces.pop(trace_id, None)


def lookup_trace(trace_id: int) -> TraceState | None:
    # WeakValueDictionary.get is safe without the lock for readers in CPython.
    return _traces.get(trace_id)


def current_trace_state() -> TraceState | None:
    """The open Ashr trace of the active OTel span, if the active span belongs to one."""
    span_context = otel_trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return lookup_trace(span_context.trace_id)


def set_current_runtime(runtime: TracingRuntime | None) -> None:
    """Make ``runtime`` the one ``@observe`` uses when no trace is active."""
    global _current_runtime
    with _lock:
        _current_runtime = weakref.ref(runtime) if runtime is not None else None


def clear_current_runtime(runtime: TracingRuntime) -> None:
    """Forget ``runtime`` if it is the current one (its client was closed)."""
    global _current_runtime
    with _lock:
        if _current_runtime is not None and _current_runtime() is runtime:
            _current_runtime = None


def current_runtime() -> TracingRuntime | None:
    ref = _current_runtime
    return ref() if ref is not None else None


def wrap_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to a copy of the caller's context, so spans it opens in another thread nest
    under the caller's span (``pool.submit(wrap_context(work), item)``)."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the submitting caller's context."""

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        return super().submit(wrap_context(fn), *args, **kwargs)


def context_executor(max_workers: int | None = None, **kwargs: Any) -> ContextThreadPoolExecutor:
    """A thread pool that carries each submitter's tracing context into its task (F35)."""
    return ContextThreadPoolExecutor(max_workers=max_workers, **kwargs)

"""The tracing half of the client's Observability methods: ``trace``, ``flush``, ``observe``,
``tracer_provider`` and the shutdown hook.

``TracingMethods`` is a base of ``ObservabilityMethods`` (a mixin of ``AshrLabsClient``). Each
client gets one ``TracingRuntime`` right after its constructor runs (the wrapper installed by
``__init_subclass__``), so the newest client becomes the one ``@observe`` uses without any
tracing call first. A client that is garbage-collected without ``close()`` has its runtime
stopped by a finalizer (no thread or socket leak, F16).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace as otel_trace

from .._safety import internal_errors
from ._decorators import ObsType, make_observe
from ._processor import empty_report
from ._provider import TracingRuntime, noop_root_span
from ._ratelimit import warn_limited
from ._spans import Trace, start_trace

if TYPE_CHECKING:
    from .._http import Transport
    from ._options import TracingOptions

__all__ = ["TracingMethods"]

_F = TypeVar("_F", bound=Callable[..., Any])


class TracingMethods:
    """``trace()``, ``flush()``, ``observe()``, ``tracer_provider`` for ``AshrLabsClient``."""

    _transport: Transport
    _tracing_options: TracingOptions
    _ashr_tracing: TracingRuntime | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        original = cls.__dict__.get("__init__")
        if original is None or getattr(original, "_ashr_tracing_hook", False):
            return

        @functools.wraps(original)
        def __init__(self: TracingMethods, *args: Any, **kw: Any) -> None:
            original(self, *args, **kw)
            if self._ashr_tracing is None:
                self._start_tracing()

        __init__._ashr_tracing_hook = True  # type: ignore[attr-defined]
        setattr(cls, "__init__", __init__)  # noqa: B010 (mypy forbids assigning a method)

    def _start_tracing(self) -> TracingRuntime:
        runtime = self._ashr_tracing
        if runtime is None:
            transport = getattr(self, "_transport", None)
            runtime = TracingRuntime(self._tracing_options, transport)
            self._ashr_tracing = runtime
            finalizer = weakref.finalize(self, runtime.close, 0.5)
            finalizer.atexit = False  # the runtime's own exit hook flushes with its budget
        return runtime

    @property
    def _tracing(self) -> TracingRuntime:
        return self._ashr_tracing or self._start_tracing()

    def trace(
        self,
        name: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Trace:
        """Start a new trace for a production agent interaction (a new OTel trace).

        Supports ``with``. ``trace.trace_id`` (the OTel trace id, 32 hex) is known at once.
        Never raises: with tracing off (no key, ``enabled=False``, ``OTEL_SDK_DISABLED``) the
        trace is a no-op.
        """
        runtime = self._tracing
        trace: Trace | None = None
        if runtime.closed:
            warn_limited("trace-after-close", "ashr_labs: trace() on a closed client is a no-op")
        else:
            with internal_errors():
                trace = start_trace(
                    runtime,
                    name,
                    user_id=user_id,
                    session_id=session_id,
                    metadata=metadata,
                    tags=tags,
                )
        if trace is None:  # closed, or an internal failure (logged): a no-op trace
            trace = Trace(runtime, noop_root_span(), None)
        return trace

    def flush(self, timeout: float | None = None) -> dict[str, Any]:
        """Send every ended trace now; wait at most ``timeout`` seconds (default
        ``flush_timeout_s``) and report what happened. Never raises; sending goes on in the
        background after the deadline.

        Report keys (totals since the client was created): ``sent`` trace payloads delivered
        (a trace sent in parts, e.g. partial then late spans, counts each part); ``failed``
        payloads lost after their retries; ``dropped`` spans refused by a full queue or a full
        trace buffer; ``pending`` traces ended but not yet answered; ``complete`` whether
        nothing is pending; ``reasons`` counts per cause (``connection``, ``timeout``,
        ``http_<status>``, ``queue_full``, ``trace_too_large``, ...).
        """
        report = empty_report()
        with internal_errors():
            report = self._tracing.flush(timeout)
        return report

    @property
    def tracer_provider(self) -> otel_trace.TracerProvider:
        """The OTel provider this client traces into: add your own span processors here.

        Values on spans are already masked and redacted. A no-op provider when tracing is off.
        """
        return self._tracing.tracer_provider

    def observe(
        self,
        name: str | None = None,
        *,
        as_type: ObsType = "span",
        capture_input: bool = True,
        capture_output: bool = True,
    ) -> Callable[[_F], _F]:
        """``@client.observe(...)``: like ``ashr_labs.observe`` but opens traces on this client.

        The decorated function keeps its signature for type checkers, as with ``observe``.
        """
        runtime = self._tracing
        decorator: Callable[[_F], _F] = make_observe(
            lambda: runtime,
            name=name,
            as_type=as_type,
            capture_input=capture_input,
            capture_output=capture_output,
        )
        return decorator

    def _shutdown_tracing(self, timeout_s: float) -> None:
        """Flush (bounded by ``timeout_s``) and stop this client's tracing."""
        runtime = self._ashr_tracing
        if runtime is not None:
            with internal_errors():
                runtime.close(timeout_s)

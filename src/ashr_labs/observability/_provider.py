"""Provider wiring: one ``TracingRuntime`` per client (DESIGN.md §3).

By default the runtime makes its own ``TracerProvider`` and never installs it globally, so our
exporter only sees Ashr spans (and our instrumentors'), while the OTel context stays shared.
Given ``tracer_provider=``, our processor joins the user's provider and the exporter keeps only
trees holding Ashr, GenAI or known-LLM spans. Disabled (no key, ``enabled=False``,
``ASHR_LABS_TRACING_ENABLED=0``, ``OTEL_SDK_DISABLED=true``): spans are OTel
``NonRecordingSpan``s, no thread, no socket, one log line (F20).

Exit: one ``atexit`` hook flushes every live runtime (and every exporter no client owns, as in
zero-code mode) within one ``flush_timeout_s`` budget, starts no thread, abandons at once on
``KeyboardInterrupt``, and writes one stderr line with the number of traces lost (F03-F05).
A forked child starts empty (see ``_processor``). Before ``os._exit`` (e.g. in a
``multiprocessing`` worker) call ``client.flush()``: ``os._exit`` skips ``atexit`` (F15).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import random
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes

from .._version import __version__
from ._context import clear_current_runtime, set_current_runtime
from ._exporter import AshrSpanExporter, standalone_exporters
from ._options import TracingOptions, tracing_enabled
from ._processor import AshrBatchSpanProcessor, empty_report
from ._ratelimit import logger

if TYPE_CHECKING:
    from .._http import Transport

__all__ = ["TracingRuntime", "noop_root_span", "tracing_enabled"]

TRACER_NAME = "ashr_labs"


def noop_root_span() -> NonRecordingSpan:
    """A span that records nothing but has fresh random ids, so ``trace.trace_id`` reads."""
    ids = random.getrandbits(128) or 1, random.getrandbits(64) or 1
    return NonRecordingSpan(SpanContext(ids[0], ids[1], False, TraceFlags(0)))


class _NoOpTracer(otel_trace.NoOpTracer):
    """Hands out ``NonRecordingSpan``s; a new root gets random ids so ``trace_id`` still reads."""

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> otel_trace.Span:
        parent = otel_trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            return NonRecordingSpan(parent)
        return noop_root_span()

    @_agnosticcontextmanager
    def start_as_current_span(
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[otel_trace.Span]:
        """``start_span`` made current; the other arguments mean nothing without recording."""
        span = self.start_span(name, context)
        with otel_trace.use_span(span, end_on_exit=False):
            yield span


class _DisabledTracerProvider(otel_trace.NoOpTracerProvider):
    """``client.tracer_provider`` while tracing is off: no-op tracers, and the SDK provider's
    processor calls accepted and ignored, so ``add_span_processor(...)`` code runs unchanged."""

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Nothing is recorded, so the processor would never see a span: it is not kept."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


class TracingRuntime:
    """A client's tracing: its tracer, processor, exporter and (usually) its own provider."""

    def __init__(self, options: TracingOptions, transport: Transport | None) -> None:
        self.options = options
        self.enabled = transport is not None and tracing_enabled(options)
        self.exporter: AshrSpanExporter | None = None
        self.processor: AshrBatchSpanProcessor | None = None
        self._provider: TracerProvider | None = None
        self._owns_provider = False
        self._closed = False
        self._lock = threading.Lock()
        if not self.enabled:
            why = "no API key" if transport is None else "tracing disabled by settings"
            logger.info("ashr_labs: tracing is off (%s); tracing calls are no-ops", why)
            self.tracer: otel_trace.Tracer = _NoOpTracer()
            return
        self.exporter = AshrSpanExporter(options=options, transport=transport)
        self.processor = AshrBatchSpanProcessor(
            self.exporter,
            max_queue_size=options.max_queue_size,
            max_export_batch_size=options.max_export_batch_size,
            schedule_delay_ms=options.schedule_delay_ms,
        )
        if options.tracer_provider is not None:
            self._provider = options.tracer_provider
        else:
            self._provider = TracerProvider(
                resource=Resource.create({"telemetry.sdk.name": "ashr-labs"}),
                shutdown_on_exit=False,
            )
            self._owns_provider = True
        self._provider.add_span_processor(self.processor)
        self.tracer = self._provider.get_tracer(TRACER_NAME, __version__)
        _live.add(self)
        set_current_runtime(self)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def tracer_provider(self) -> otel_trace.TracerProvider:
        if self._provider is None:
            return _DisabledTracerProvider()
        return self._provider

    def flush(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Export everything ended so far; wait up to ``timeout_s``; return the report."""
        budget = self.options.flush_timeout_s if timeout_s is None else float(timeout_s)
        if self.processor is None:
            return empty_report()
        return self.processor.flush(budget)

    def flush_trace(self, trace_id_hex: str) -> dict[str, Any]:
        """``trace.end(flush=True)``: the server's answer, or the documented error dict."""
        budget = self.options.flush_timeout_s
        outcome = None
        if self.processor is not None and self.exporter is not None:
            if self.processor.request_flush():
                outcome = self.exporter.wait_outcome(trace_id_hex, budget)
            else:
                self.processor.flush(budget)
                outcome = self.exporter.outcome(trace_id_hex)
        if outcome is not None:
            return dict(outcome)
        return {
            "status": "error",
            "message": f"trace not delivered within {budget:g}s; it stays queued and is sent "
            "in the background",
        }

    def close(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        """Flush (bounded) and stop the worker; idempotent. The user's provider stays up."""
        with self._lock:
            if self._closed:
                return None
            self._closed = True
        clear_current_runtime(self)
        _live.discard(self)
        if self.processor is None:
            return None
        budget = self.options.flush_timeout_s if timeout_s is None else timeout_s
        report = self.processor.shutdown_within(budget)
        if self._owns_provider and self._provider is not None:
            self._provider.shutdown()
        return report

    def lost(self) -> int:
        return self.processor.lost_count() if self.processor is not None else 0


_live: weakref.WeakSet[TracingRuntime] = weakref.WeakSet()


def _shutdown_all_at_exit() -> None:
    """Flush every live runtime and standalone exporter within one budget; never raise, never
    start a thread; one stderr line with the traces lost (code and zero-code alike, F04).

    A zero-code exporter was usually shut down already by the SDK's own exit hook, which runs
    first (its provider was created after this module registered this hook): then only its
    losses are read here.
    """
    lost = 0
    reasons: collections.Counter[str] = collections.Counter()
    runtimes: list[TracingRuntime] = []
    exporters: list[AshrSpanExporter] = []
    try:
        runtimes = list(_live)
        exporters = standalone_exporters()
        # One budget for the whole exit, not one per client (many clients, one dead backend).
        budgets = [r.options.flush_timeout_s for r in runtimes]
        budgets += [e.options.flush_timeout_s for e in exporters]
        deadline = time.monotonic() + max(budgets, default=0.0)

        def remaining(options: TracingOptions) -> float:
            return max(0.0, min(options.flush_timeout_s, deadline - time.monotonic()))

        for runtime in runtimes:
            runtime.close(remaining(runtime.options))
            lost += runtime.lost()
            if runtime.processor is not None:
                reasons.update(runtime.processor.report()["reasons"])
        for exporter in exporters:
            exporter.shutdown(timeout_millis=remaining(exporter.options) * 1000.0)
            lost += exporter.lost()
            reasons.update(exporter.stats()["reasons"])
    except BaseException:  # KeyboardInterrupt / SystemExit at exit: abandon at once (F05)
        with contextlib.suppress(BaseException):
            lost = sum(r.lost() for r in runtimes) + sum(e.lost() for e in exporters)
        reasons["interrupted"] += 1
    if lost:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        with contextlib.suppress(BaseException):
            sys.stderr.write(f"ashr_labs: {lost} trace(s) not delivered at exit ({detail})\n")
            sys.stderr.flush()


atexit.register(_shutdown_all_at_exit)


class _ForkAnchor:
    """A weak-referenceable object ``multiprocessing.util.register_after_fork`` can key on."""


_anchor = _ForkAnchor()
_after_fork_registered = False


def _flush_at_worker_exit(_: object) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _shutdown_all_at_exit, exitpriority=100)


def _hook_multiprocessing_before_fork() -> None:
    """A ``multiprocessing`` worker leaves through ``os._exit``, skipping ``atexit``, but its exit
    path runs ``multiprocessing.util`` finalizers: register one in each new worker (F15)."""
    global _after_fork_registered
    util = sys.modules.get("multiprocessing.util")
    if util is None or _after_fork_registered or not _live:
        return
    with contextlib.suppress(Exception):
        util.register_after_fork(_anchor, _flush_at_worker_exit)
        _after_fork_registered = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_hook_multiprocessing_before_fork)

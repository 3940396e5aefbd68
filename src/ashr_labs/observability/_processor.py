"""``AshrBatchSpanProcessor``: a bounded queue and one worker thread in front of the exporter.

Why not the SDK's ``BatchSpanProcessor``: we need exact drop counts for the flush report (F07),
a flush that honours its timeout (upstream ignores it, F06), a shutdown bounded by the exit
budget that starts no thread at exit (F04), a worker started lazily so idle clients hold no
thread (F16, F20), and fork safety that also resets the exporter's buffers (F13, F14).

Drop policy (F07): while the queue is full, newly ended spans are refused and counted; spans
already queued are kept. The worker tells the exporter which traces lost spans (before it hands
over the next batch), so those traces are sent marked ``incomplete``; a refusal costs the
caller's thread one dict update under the queue's lock.

``on_start`` also marks spans whose parent this provider never started: their trace closes
when they end, unless one of our spans that closes that trace is still open (an Ashr trace around
the app's span around ours), when they hang on that trace instead. Trace-wide user and session
ids stay on the root span only: the exporter takes them from the root for the whole trace, so
copying them onto every child would cost two attribute writes per span on the caller's thread
for no change in what is sent.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from .._safety import internal_errors, suppress_instrumentation
from ._mapping import ASHR_FOREIGN_PARENT, ASHR_LOCAL_ROOT
from ._ratelimit import warn_limited

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Span as SdkSpan

    from ._exporter import AshrSpanExporter

__all__ = ["AshrBatchSpanProcessor", "empty_report"]

_OPEN_SPANS_CAP = 100_000
_ENDED_IDS_CAP = 16_384
_REFUSED_TRACES_CAP = 16_384


class AshrBatchSpanProcessor(SpanProcessor):
    """Queue finished spans (never blocking the caller) and export them on one worker thread."""

    def __init__(
        self,
        exporter: AshrSpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_ms: float = 200,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_export_batch_size = max_export_batch_size
        self.schedule_delay_s = schedule_delay_ms / 1000.0
        self._init_state()
        _processors.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        # Trace id -> spans refused since the worker last took a batch (it tells the exporter).
        self._refused: dict[int, int] = {}
        self._open: set[int] = set()
        # Trace id -> span id of our open span that closes it (its root, or a local root).
        self._open_roots: dict[int, int] = {}
        # Recently ended span ids: a child started after its parent ended is still ours.
        self._ended_ids: set[int] = set()
        self._ended_order: collections.deque[int] = collections.deque()
        self._busy = False
        self._flush_requested = False
        self._stopping = False
        self._stopped = False
        self._worker: threading.Thread | None = None
        self.dropped = 0
        self.queued_roots = 0

    # -- SpanProcessor ------------------------------------------------------------------------
    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        with internal_errors():
            parent = span.parent
            context = span.get_span_context()
            closes_trace = parent is None
            if (
                parent is not None
                and not parent.is_remote
                and parent.span_id not in self._open
                and parent.span_id not in self._ended_ids
            ):
                if context.trace_id in self._open_roots:
                    # The app's span inside one of our open traces: hang this one on that trace.
                    span.set_attribute(ASHR_FOREIGN_PARENT, True)
                else:
                    span.set_attribute(ASHR_LOCAL_ROOT, True)
                    closes_trace = True
            if len(self._open) < _OPEN_SPANS_CAP:
                self._open.add(context.span_id)
                if closes_trace:
                    self._open_roots.setdefault(context.trace_id, context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        with internal_errors():
            context = span.context
            if context is None:
                return
            span_id = context.span_id
            self._open.discard(span_id)
            if self._open_roots.get(context.trace_id) == span_id:
                self._open_roots.pop(context.trace_id, None)
            self._ended_ids.add(span_id)
            ended = self._ended_order
            ended.append(span_id)
            if len(ended) > _ENDED_IDS_CAP:
                self._ended_ids.discard(ended.popleft())
            if not context.trace_flags.sampled:
                return
            is_root = span.parent is None
            with self._lock:
                if self._stopped:
                    return
                if len(self._queue) >= self.max_queue_size:
                    self.dropped += 1
                    refused = True
                    trace_id = context.trace_id
                    if trace_id in self._refused or len(self._refused) < _REFUSED_TRACES_CAP:
                        self._refused[trace_id] = self._refused.get(trace_id, 0) + 1
                else:
                    self._queue.append(span)
                    refused = False
                    if is_root:
                        self.queued_roots += 1
                size = len(self._queue)
            if refused:
                warn_limited(
                    "queue_full",
                    "ashr_labs: span queue full (%d spans); newly ended spans are dropped "
                    "until the exporter catches up",
                    self.max_queue_size,
                )
                return
            self._ensure_worker()
            if size >= self.max_export_batch_size and not self._wake.is_set():
                self._wake.set()

    def shutdown(self) -> None:
        self.shutdown_within(self.exporter.options.flush_timeout_s)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.flush(timeout_millis / 1000.0)["complete"])

    # -- worker -------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._lock:
            if self._worker is not None or self._stopping:
                return
            worker = threading.Thread(target=self._run, name="ashr-labs-export", daemon=True)
            try:
                worker.start()
            except RuntimeError:
                # Interpreter shutdown refuses new threads (3.12+); export on this thread instead.
                return
            self._worker = worker

    def _run(self) -> None:
        with suppress_instrumentation():
            while True:
                self._wake.wait(self.schedule_delay_s)
                self._wake.clear()
                self._drain()
                with internal_errors():
                    self.exporter.expire(time.monotonic())
                with self._lock:
                    self._flush_requested = False
                    self._progress.notify_all()
                    if self._stopping and not self._queue:
                        return

    def _drain(self) -> None:
        """Export everything queued, batch by batch (worker thread, or the caller at exit)."""
        while True:
            with self._lock:
                if not self._queue and not self._refused:
                    return
                count = min(self.max_export_batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
                self.queued_roots -= sum(1 for s in batch if s.parent is None)
                refused, self._refused = self._refused, {}
                self._busy = True
            try:
                with internal_errors():
                    if refused:
                        self.exporter.note_dropped(refused)
                    if batch:
                        self.exporter.export(batch)
            finally:
                with self._lock:
                    self._busy = False
                    self._progress.notify_all()

    # -- flush and shutdown -------------------------------------------------------------------
    def _idle(self) -> bool:
        return not self._queue and not self._busy and not self._flush_requested

    def request_flush(self) -> bool:
        """Ask the worker to export now without waiting; False when there is no worker."""
        if self._worker is None or not self._worker.is_alive():
            return False
        with self._lock:
            self._flush_requested = True
        self._wake.set()
        return True

    def flush(self, timeout_s: float) -> dict[str, Any]:
        """Ask the worker to export everything now; wait up to ``timeout_s``; return the report."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        if self.request_flush():
            with self._lock:
                while not self._idle():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._progress.wait(remaining)
        elif self._queue:
            self.exporter.set_hard_deadline(deadline)
            try:
                self._drain()
            finally:
                self.exporter.set_hard_deadline(None)
        return self.report()

    def report(self) -> dict[str, Any]:
        with self._lock:
            queued = len(self._queue)
            queued_roots = self.queued_roots
            busy = self._busy
            dropped = self.dropped
        stats = self.exporter.stats()
        # A batch's traces count as pending in the exporter (in flight) once it has them; a
        # busy worker keeps the report incomplete meanwhile (counting the batch too would count
        # each of its traces twice: the exit line said 21 lost for 20).
        pending = queued_roots + stats["pending"]
        reasons = dict(stats["reasons"])
        if dropped:
            reasons["queue_full"] = dropped
        return {
            "sent": stats["sent"],
            "pending": pending,
            "dropped": dropped + stats["dropped"],
            "failed": stats["failed"],
            "complete": pending == 0 and queued == 0 and not busy,
            "reasons": reasons,
        }

    def shutdown_within(self, timeout_s: float) -> dict[str, Any]:
        """Export what is queued and what is still buffered (as partial), within ``timeout_s``.

        Never starts a thread; abandons at once on ``KeyboardInterrupt`` (the caller reports).
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._lock:
            already = self._stopped or self._stopping
            self._stopping = True
        if already:
            return self.report()
        self.exporter.set_hard_deadline(deadline)
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._wake.set()
            worker.join(max(0.0, deadline - time.monotonic()))
        else:
            self._drain()
        with self._lock:
            self._stopped = True
        if not (worker is not None and worker.is_alive()):
            with internal_errors():
                self.exporter.flush_open_buffers()
            self.exporter.shutdown()
        return self.report()

    def lost_count(self) -> int:
        """Traces that were not delivered (failed, still queued, or still buffered)."""
        report = self.report()
        return int(report["failed"]) + int(report["pending"]) + self.exporter.open_traces()

    # -- fork ---------------------------------------------------------------------------------
    def _after_fork(self) -> None:
        """In a forked child: a fresh queue, fresh locks, no worker until the next span (F13)."""
        self._init_state()
        self.exporter.reset_after_fork()


def empty_report() -> dict[str, Any]:
    """The flush report when nothing was ever traced (tracing off, or a failure before it)."""
    return {"sent": 0, "pending": 0, "dropped": 0, "failed": 0, "complete": True, "reasons": {}}


_processors: weakref.WeakSet[AshrBatchSpanProcessor] = weakref.WeakSet()


def _reinit_all_in_child() -> None:
    for processor in list(_processors):
        processor._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_all_in_child)

"""``AshrSpanExporter``: whole traces to ``ingest_observability_trace``.

Runs on the batch worker thread, never on the caller's. Finished spans are buffered per OTel
trace id until the trace's root ends; then the trace is mapped (``_mapping``) and sent as one
payload with the trace id as idempotency key, so a retry can never store it twice. Buffers are
capped in open traces, spans, bytes and age: an abandoned or overflowing trace is sent as a
partial trace marked ``"incomplete": true`` with its ``dropped_spans`` count (F59). Only trees
that hold an Ashr span, a GenAI-convention span or a known LLM instrumentation's span are sent
(DESIGN.md §3 filter); others are discarded when their root ends.

Failures never raise: each is counted with a reason and logged at most once per cause per
interval with the server's message and no key (F01, F09). A 413 is resent once with values cut
harder. While the backend refuses connections, traces fail at once, unmapped, instead of each
waiting out the export deadline (the window grows to 30 s); when it ends, one trace is tried
once, without retries.

Registered as the ``ashr`` ``opentelemetry_traces_exporter`` entry point: built with no
arguments it reads ``ASHR_LABS_API_KEY`` / ``ASHR_LABS_BASE_URL`` (zero-code tracing); bad
settings are logged and the exporter drops everything instead of failing the app (F19), and so
does ``ASHR_LABS_TRACING_ENABLED=0``, with no socket opened (F20).
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._attributes import ASHR_OBSERVATION_TYPE
from .._errors import AshrLabsError, ConfigurationError, RequestTimeoutError, TransportError
from .._http import Transport
from .._safety import internal_errors, suppress_instrumentation
from .._settings import ASHR_LABS_API_KEY, ASHR_LABS_BASE_URL, ASHR_LABS_TIMEOUT, DEFAULT_BASE_URL
from ._context import lookup_trace
from ._mapping import SentHeader, build_trace_payload, is_local_root, is_relevant, sent_header
from ._options import TracingOptions, tracing_enabled
from ._ratelimit import log_limited, logger, warn_limited
from ._values import redact_text

__all__ = ["AshrSpanExporter"]

INGEST_FUNCTION = "ingest_observability_trace"
_RESEND_VALUE_CAP = 2048
_OUTCOMES_CAP = 1024
_SENT_ROOTS_CAP = 4096
_SENT_HEADER_CHARS = 256
_SENT_HEADER_TAGS = 16
"""Per sent trace the exporter keeps its root's span id and header strings of at most
``_SENT_HEADER_CHARS`` characters in all (``_SENT_HEADER_TAGS`` tags at most). Measured with
tracemalloc on CPython 3.11: about 0.5 KB per entry for short ASCII ids and two tags, 3.3 KB at
worst (emoji text, 16 tags), so at most 2 MB typical / 13 MB worst for ``_SENT_ROOTS_CAP``."""
_SPAN_OVERHEAD_BYTES = 256
_WIRE_BYTES_PER_CHAR = 12
"""The request is ASCII JSON: a character past U+FFFF becomes two ``\\uXXXX`` escapes."""
_DOWN_MIN_S = 1.0
_DOWN_MAX_S = 30.0


@dataclass
class _Buffer:
    """The finished spans of one open trace."""

    created: float
    spans: list[ReadableSpan] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    relevant: bool = False
    late: bool = False
    """The trace was already sent: these spans go out at once as a partial supplement."""


@dataclass(frozen=True, slots=True)
class _SentTrace:
    """What a late partial supplement needs of its trace, which was already sent."""

    root_span_id: int | None
    """The Ashr root's span id: its late children become top-level observations."""
    header: SentHeader


@dataclass
class _Ready:
    """One trace (or part of one) ready to send."""

    trace_id: int
    spans: list[ReadableSpan]
    incomplete: bool
    dropped: int
    root_span_id: int | None = None
    size: int = 0
    """Estimated bytes of the spans (``_estimate_size``)."""
    sent: SentHeader | None = None
    """A late partial's trace header as it was sent (name, ids, tags)."""


def _estimate_size(span: ReadableSpan) -> int:
    """Characters of the span's name, attribute keys and values, plus a fixed overhead: at
    least 1/12 of its mapped JSON on the wire (see ``_WIRE_BYTES_PER_CHAR``)."""
    size = _SPAN_OVERHEAD_BYTES + len(span.name) + _attributes_size(span.attributes)
    for event in span.events:
        size += 64 + len(event.name) + _attributes_size(event.attributes)
    return size


def _attributes_size(attributes: Mapping[str, Any] | None) -> int:
    if not attributes:
        return 0
    return sum(len(k) + (len(v) if isinstance(v, str) else 16) for k, v in attributes.items())


class AshrSpanExporter(SpanExporter):
    """Send finished spans to the Ashr ingest endpoint as whole-trace payloads.

    Runs on the BatchSpanProcessor worker thread, never on the caller's thread. Network and
    server errors are logged once per cause per interval and counted; nothing is raised.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        options: TracingOptions | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.options = options if options is not None else TracingOptions()
        self._transport: Transport | None = transport
        self._owns_transport = transport is None
        self._init_state()
        if transport is None:
            self._transport = self._transport_from(api_key, base_url)
            # Zero-code: the SDK's exit hook joins its worker for up to 30 s. This hook runs
            # first (registered later) and bounds every remaining send by our flush budget.
            atexit.register(self._bound_sends_at_exit)
            if self._transport is not None:
                # The package's exit hook reports what this exporter lost (F04).
                _standalone.add(self)

    def _transport_from(self, api_key: str | None, base_url: str | None) -> Transport | None:
        if not tracing_enabled(self.options):
            logger.info("ashr_labs: tracing is off (tracing disabled by settings); nothing is sent")
            return None
        key = api_key if api_key is not None else os.environ.get(ASHR_LABS_API_KEY)
        url = base_url or os.environ.get(ASHR_LABS_BASE_URL) or DEFAULT_BASE_URL
        if not key:
            logger.warning("ashr_labs: no API key (set %s); Ashr tracing is off", ASHR_LABS_API_KEY)
            return None
        try:
            timeout = float(os.environ.get(ASHR_LABS_TIMEOUT) or 30)
            if not key.startswith("tp_"):
                raise ConfigurationError(f"{ASHR_LABS_API_KEY}: expected a key starting with 'tp_'")
            return Transport(key, url, timeout)
        except (ConfigurationError, ValueError) as exc:
            logger.warning(
                "ashr_labs: bad tracing settings (%s); Ashr tracing is off", redact_text(str(exc))
            )
            return None

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._outcome_ready = threading.Condition(self._lock)
        self._buffers: collections.OrderedDict[int, _Buffer] = collections.OrderedDict()
        self._late: set[int] = set()  # ids of buffers holding spans of a trace already sent
        self._pending_drops: dict[int, int] = {}
        self._outcomes: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        # trace id -> its Ashr root and header as sent, for spans that end after their trace.
        self._sent_roots: collections.OrderedDict[int, _SentTrace] = collections.OrderedDict()
        self._in_flight = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.buffered_bytes = 0
        self.max_buffered_bytes_seen = 0
        self.reasons: collections.Counter[str] = collections.Counter()
        self._down_until = 0.0
        self._down_for = 0.0
        self._hard_deadline: float | None = None
        self._shutdown = False

    # -- used by the processor ----------------------------------------------------------------
    def note_dropped(self, drops: Mapping[int, int]) -> None:
        """Spans of these traces (id -> count) never reached us: send those traces as partial."""
        with self._lock:
            for trace_id, count in drops.items():
                buffer = self._buffers.get(trace_id)
                if buffer is not None:
                    buffer.dropped += count
                elif len(self._pending_drops) < self.options.max_open_traces * 4:
                    self._pending_drops[trace_id] = self._pending_drops.get(trace_id, 0) + count

    def _bound_sends_at_exit(self) -> None:
        if self._hard_deadline is None:
            self.set_hard_deadline(time.monotonic() + float(self.options.flush_timeout_s))

    def set_hard_deadline(self, deadline: float | None) -> None:
        """No send may last past this monotonic time (the exit or flush budget)."""
        self._hard_deadline = deadline

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "pending": self._in_flight,
                "reasons": dict(self.reasons),
            }

    def open_traces(self) -> int:
        with self._lock:
            return len(self._buffers)

    def lost(self) -> int:
        """Traces not delivered: failed, still being sent, or still buffered."""
        with self._lock:
            return self.failed + self._in_flight + len(self._buffers)

    def outcome(self, trace_id_hex: str) -> dict[str, Any] | None:
        with self._lock:
            return self._outcomes.get(trace_id_hex)

    def wait_outcome(self, trace_id_hex: str, timeout_s: float) -> dict[str, Any] | None:
        """Block until this trace was answered (or lost), at most ``timeout_s``."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._lock:
            while trace_id_hex not in self._outcomes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._outcome_ready.wait(remaining)
            return self._outcomes[trace_id_hex]

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's buffers are the parent's to send (F13)."""
        self._init_state()

    # -- SpanExporter -------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Buffer ``spans``; send every trace whose root is among them. Never raises."""
        if self._transport is None or self._shutdown:
            return SpanExportResult.SUCCESS if self._transport is None else SpanExportResult.FAILURE
        ready: list[_Ready] = []
        now = time.monotonic()
        with self._lock:
            # While the backend refuses connections, traces fail unmapped: keep only the roots.
            down = now < self._down_until
            for span in spans:
                self._add(span, ready, down)
            self._release_late(ready)
            self._expire_locked(now, ready)
            self._in_flight += len(ready)
        return self._send_all(ready)

    def expire(self, now: float) -> None:
        """Send traces that stayed open past the age limit, as partial (called by the worker)."""
        ready: list[_Ready] = []
        with self._lock:
            self._expire_locked(now, ready)
            self._in_flight += len(ready)
        if ready:
            self._send_all(ready)

    def flush_open_buffers(self) -> None:
        """Send every open trace as partial (at shutdown)."""
        with self._lock:
            released = [self._release(tid, incomplete=True) for tid in list(self._buffers)]
            ready = [r for r in released if r is not None]
            self._in_flight += len(ready)
        self._send_all(ready)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        if self._shutdown:
            return
        if timeout_millis is not None:
            self.set_hard_deadline(time.monotonic() + timeout_millis / 1000.0)
            self.flush_open_buffers()
        self._shutdown = True
        if self._owns_transport and self._transport is not None:
            self._transport.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- buffering (under the lock) -----------------------------------------------------------
    def _add(self, span: ReadableSpan, ready: list[_Ready], down: bool) -> None:
        context = span.context
        if context is None:
            return
        trace_id = context.trace_id
        buffer = self._buffers.get(trace_id)
        if buffer is None:
            if len(self._buffers) >= self.options.max_open_traces:
                oldest = next(iter(self._buffers))
                released = self._release(oldest, incomplete=True)
                if released is not None:
                    ready.append(released)
            buffer = _Buffer(created=time.monotonic())
            buffer.dropped = self._pending_drops.pop(trace_id, 0)
            buffer.late = trace_id in self._sent_roots
            if buffer.late:
                self._late.add(trace_id)
            self._buffers[trace_id] = buffer
        root = is_local_root(span)
        if down and not root:
            buffer.dropped += 1  # not kept: the trace cannot be sent, nor waits to be
            buffer.relevant = buffer.relevant or is_relevant(span)
            return
        size = 0 if down else _estimate_size(span)
        over = (
            len(buffer.spans) >= self.options.max_spans_per_trace
            or buffer.size + size > self.options.max_trace_bytes
        )
        if over and not root:
            buffer.dropped += 1
            self.dropped += 1
            self.reasons["trace_too_large"] += 1
            return
        buffer.spans.append(span)
        buffer.size += size
        buffer.relevant = buffer.relevant or is_relevant(span)
        self.buffered_bytes += size
        self.max_buffered_bytes_seen = max(self.max_buffered_bytes_seen, self.buffered_bytes)
        if root:
            released = self._release(trace_id, incomplete=False)
            if released is not None:
                ready.append(released)

    def _release(self, trace_id: int, *, incomplete: bool) -> _Ready | None:
        buffer = self._buffers.pop(trace_id, None)
        if buffer is None:
            return None
        self.buffered_bytes -= buffer.size
        if not buffer.relevant and not buffer.late:
            return None
        if buffer.late:
            sent = self._sent_roots.get(trace_id)
            return _Ready(
                trace_id,
                buffer.spans,
                True,
                buffer.dropped,
                sent.root_span_id if sent is not None else None,
                buffer.size,
                sent.header if sent is not None else None,
            )
        if not incomplete:
            self._remember_root(trace_id, buffer.spans)
        return _Ready(
            trace_id,
            buffer.spans,
            incomplete or buffer.dropped > 0,
            buffer.dropped,
            size=buffer.size,
        )

    def _remember_root(self, trace_id: int, spans: list[ReadableSpan]) -> None:
        root = spans[-1]  # the root ends the buffer
        attributes = root.attributes or {}
        ashr_root = attributes.get(ASHR_OBSERVATION_TYPE) == "trace" and root.context is not None
        self._sent_roots[trace_id] = _SentTrace(
            root.context.span_id if ashr_root and root.context else None,
            sent_header(spans, max_chars=_SENT_HEADER_CHARS, max_tags=_SENT_HEADER_TAGS),
        )
        self._sent_roots.move_to_end(trace_id)
        while len(self._sent_roots) > _SENT_ROOTS_CAP:
            self._sent_roots.popitem(last=False)

    def _release_late(self, ready: list[_Ready]) -> None:
        late, self._late = self._late, set()
        for trace_id in late:
            released = self._release(trace_id, incomplete=True)
            if released is not None:
                ready.append(released)

    def _expire_locked(self, now: float, ready: list[_Ready]) -> None:
        limit = self.options.max_trace_age_s
        while self._buffers:
            trace_id, buffer = next(iter(self._buffers.items()))
            if now - buffer.created < limit:
                return
            released = self._release(trace_id, incomplete=True)
            if released is not None:
                ready.append(released)

    # -- sending ------------------------------------------------------------------------------
    def _send_all(self, ready: list[_Ready]) -> SpanExportResult:
        result = SpanExportResult.SUCCESS
        with suppress_instrumentation():
            for item in ready:
                try:
                    ok = self._send(item)
                except Exception as exc:  # a bug in mapping: count the trace as lost, go on
                    self._record_failure(item, "internal_error", redact_text(repr(exc))[:200])
                    ok = False
                    with internal_errors():  # logged once; re-raised under strict mode (tests)
                        raise
                finally:
                    with self._lock:
                        self._in_flight -= 1
                if not ok:
                    result = SpanExportResult.FAILURE
        return result

    def _deadline_s(self) -> float | None:
        budget = float(self.options.export_timeout_s)
        if self._hard_deadline is not None:
            budget = min(budget, self._hard_deadline - time.monotonic())
        return budget if budget > 0.001 else None

    def _send(self, item: _Ready) -> bool:
        trace_hex = format(item.trace_id, "032x")
        now = time.monotonic()
        if now < self._down_until:
            self._record_failure(item, "backend_unavailable", "backend refused recent connections")
            return False
        payload = self._payload(item, None)
        for attempt in range(2):
            deadline_s = self._deadline_s()
            if deadline_s is None:
                self._record_failure(item, "deadline", "no time left before the flush deadline")
                return False
            try:
                # After refused connections one try tells whether the backend is back; retrying
                # within the deadline would hold the worker (and fill the queue) for nothing.
                reply = self._post(payload, trace_hex, deadline_s, retry=self._down_for == 0)
            except AshrLabsError as exc:
                if exc.status_code == 413 and attempt == 0:
                    payload = self._payload(item, _RESEND_VALUE_CAP)
                    continue
                self._on_error(item, exc)
                return False
            self._on_success(item, trace_hex, reply)
            return True
        return False

    def _post(
        self, payload: dict[str, Any], trace_hex: str, deadline_s: float, *, retry: bool
    ) -> dict[str, Any]:
        assert self._transport is not None
        return self._transport.call(
            INGEST_FUNCTION,
            {"trace": payload},
            deadline_s=deadline_s,
            idempotency_key=trace_hex,
            retry=retry,
        )

    def _payload(self, item: _Ready, value_cap: int | None) -> dict[str, Any]:
        state = lookup_trace(item.trace_id) if item.incomplete else None
        open_root = state.root if state is not None else None

        def build(cap: int | None) -> dict[str, Any]:
            return build_trace_payload(
                item.spans,
                trace_id=item.trace_id,
                incomplete=item.incomplete,
                dropped_spans=item.dropped,
                options=self.options,
                value_cap=cap,
                open_root=open_root if isinstance(open_root, ReadableSpan) else None,
                ashr_root_span_id=item.root_span_id,
                sent=item.sent,
            )

        payload = build(value_cap)
        cap = self.options.max_trace_bytes
        # Serialise only to measure when the estimate could reach the cap on the wire.
        if value_cap is None and item.size * _WIRE_BYTES_PER_CHAR >= cap:
            size = len(json.dumps(payload))  # ASCII, as the transport sends it
            if size > cap:
                # Cut every value so the request stays under the byte cap (F11).
                per_value = max(256, cap // (4 * max(1, len(item.spans))))
                payload = build(min(per_value, self.options.max_value_bytes))
        return payload

    def _on_success(self, item: _Ready, trace_hex: str, reply: dict[str, Any]) -> None:
        self._down_for = 0.0
        outcome = {
            "status": reply.get("status", "ok"),
            "trace_id": reply.get("trace_id", trace_hex),
        }
        with self._lock:
            self.sent += 1
            self._remember(trace_hex, outcome)
        log_limited(logging.DEBUG, f"sent:{trace_hex}", "ashr_labs: trace %s sent", trace_hex)

    def _on_error(self, item: _Ready, exc: AshrLabsError) -> None:
        if exc.status_code is not None:
            reason = f"http_{exc.status_code}"
        elif isinstance(exc, RequestTimeoutError):
            reason = "timeout"
        elif isinstance(exc, TransportError):
            reason = "connection"
            self._down_for = min(_DOWN_MAX_S, max(_DOWN_MIN_S, self._down_for * 2))
            self._down_until = time.monotonic() + self._down_for
        else:
            reason = "error"
        self._record_failure(item, reason, redact_text(exc.message)[:300])

    def _record_failure(self, item: _Ready, reason: str, message: str) -> None:
        trace_hex = format(item.trace_id, "032x")
        with self._lock:
            self.failed += 1
            self.reasons[reason] += 1
            failed = self.failed
            self._remember(trace_hex, {"status": "error", "message": message})
        warn_limited(
            f"export:{reason}",
            "ashr_labs: a trace could not be delivered (%s): %s (%d traces lost so far)",
            reason,
            message,
            failed,
        )

    def _remember(self, trace_hex: str, outcome: dict[str, Any]) -> None:
        """Record a trace's answer (call with the lock held) and wake ``wait_outcome``."""
        self._outcomes[trace_hex] = outcome
        self._outcome_ready.notify_all()
        self._outcomes.move_to_end(trace_hex)
        while len(self._outcomes) > _OUTCOMES_CAP:
            self._outcomes.popitem(last=False)


_standalone: weakref.WeakSet[AshrSpanExporter] = weakref.WeakSet()
"""Exporters that made their own transport (zero-code, or built by hand on a user's provider)."""


def standalone_exporters() -> list[AshrSpanExporter]:
    """The live exporters no client owns; the exit hook flushes them and counts their losses."""
    return list(_standalone)


def _reset_standalone_in_child() -> None:
    # No client's processor resets these after a fork; the parent's buffers are the parent's.
    for exporter in list(_standalone):
        exporter.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_standalone_in_child)

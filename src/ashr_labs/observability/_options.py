"""Tracing settings given to ``AshrLabsClient`` (keyword-only constructor arguments).

Validated at construction (FAULTS.md F19): a bad value raises ``ConfigurationError`` naming the
setting, the value and what was expected, never later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["TracingOptions"]


@dataclass(frozen=True)
class TracingOptions:
    """What the client's tracing does; every field has a safe default.

    Attributes:
        enabled: ``None`` reads ``ASHR_LABS_TRACING_ENABLED`` / ``OTEL_SDK_DISABLED``.
        capture_content: ``None`` reads ``ASHR_LABS_CAPTURE_CONTENT`` (default on).
        mask: called on every input/output/metadata value before it is set on a span.
        tracer_provider: the user's provider; our exporter then sits behind the Ashr filter.
        flush_timeout_s: the bounded wait of ``trace.end(flush=True)``, ``client.flush()`` and exit.
        export_timeout_s: the deadline of one export (all retries of one trace included).
        max_queue_size, max_export_batch_size, schedule_delay_ms: the BatchSpanProcessor's.
        max_open_traces, max_spans_per_trace, max_trace_bytes, max_trace_age_s: exporter buffers.
        max_value_bytes: one serialised value is cut (as valid JSON) past this size.
    """

    enabled: bool | None = None
    capture_content: bool | None = None
    mask: Callable[[Any], Any] | None = None
    tracer_provider: TracerProvider | None = None
    flush_timeout_s: float = 5.0
    export_timeout_s: float = 10.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    schedule_delay_ms: int = 200
    max_open_traces: int = 1000
    max_spans_per_trace: int = 10_000
    max_trace_bytes: int = 8 * 1024 * 1024
    max_trace_age_s: float = 300.0
    max_value_bytes: int = 64 * 1024

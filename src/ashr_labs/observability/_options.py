"""Tracing settings given to ``AshrLabsClient`` (keyword-only constructor arguments).

Validated at construction (FAULTS.md F19): a bad value raises ``ConfigurationError`` naming the
setting, the value and what was expected, never later.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from .._log import logger
from .._settings import ASHR_LABS_TRACING_ENABLED, env_flag

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["TracingOptions", "tracing_enabled"]

_OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"


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

    def __post_init__(self) -> None:
        for name in ("enabled", "capture_content"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigurationError(f"{name}: expected True, False or None, got {value!r}")
        if self.mask is not None and not callable(self.mask):
            raise ConfigurationError(f"mask: expected a callable, got {self.mask!r}")
        provider = self.tracer_provider
        if provider is not None and not hasattr(provider, "add_span_processor"):
            raise ConfigurationError(
                "tracer_provider: expected an opentelemetry.sdk.trace.TracerProvider, "
                f"got {type(self.tracer_provider).__name__}"
            )
        for name in ("flush_timeout_s", "export_timeout_s", "max_trace_age_s"):
            seconds = _positive_number(name, getattr(self, name))
            if seconds > _IMPLAUSIBLE_SECONDS:
                logger.warning(
                    "%s=%s: the unit is seconds (not milliseconds); this waits up to %.0f minutes",
                    name,
                    getattr(self, name),
                    seconds / 60,
                )
        _positive_number("schedule_delay_ms", self.schedule_delay_ms)
        for name in (
            "max_queue_size",
            "max_export_batch_size",
            "max_open_traces",
            "max_spans_per_trace",
            "max_trace_bytes",
            "max_value_bytes",
        ):
            _positive_int(name, getattr(self, name))
        if self.max_export_batch_size > self.max_queue_size:
            raise ConfigurationError(
                f"max_export_batch_size: expected at most max_queue_size ({self.max_queue_size}), "
                f"got {self.max_export_batch_size}"
            )
        if self.max_value_bytes < 256:
            raise ConfigurationError(
                f"max_value_bytes: expected an int >= 256, got {self.max_value_bytes}"
            )


_IMPLAUSIBLE_SECONDS = 600


def tracing_enabled(options: TracingOptions) -> bool:
    """The option, else ``ASHR_LABS_TRACING_ENABLED`` (default on); ``OTEL_SDK_DISABLED`` wins.

    Read by the client's runtime and by the zero-code exporter alike, so the switch means the
    same thing in both.
    """
    if env_flag(os.environ.get(_OTEL_SDK_DISABLED), False):
        return False
    if options.enabled is not None:
        return options.enabled
    return env_flag(os.environ.get(ASHR_LABS_TRACING_ENABLED), True)


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name}: expected a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{name}: expected a positive int, got {value!r}")
    return value

"""Observability: trace production agents with ``Trace``/``Span``/``Generation`` on OpenTelemetry.

``prepare_value(value, options)`` is the values pipeline every span value goes through (mask hook,
safe JSON conversion, secret redactor, size cap); instrumentors import it from here.
"""

from __future__ import annotations

from ._options import TracingOptions
from ._values import prepare_value

__all__ = [
    "TracingOptions",
    "prepare_value",
]

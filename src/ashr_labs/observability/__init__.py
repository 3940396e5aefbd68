"""Observability: trace production agents with ``Trace``/``Span``/``Generation`` on OpenTelemetry.

- ``client.trace(...)``, ``@observe``, ``update_current_trace(...)``: the tracing API.
- ``prepare_value(value, options)``: the values pipeline every span value goes through (mask hook,
  safe JSON conversion, secret redactor, size cap); instrumentors import it from here.
- ``context_executor()`` / ``wrap_context(fn)``: carry the caller's trace into thread pools
  (a plain ``threading.Thread`` or executor starts a new trace).
- ``AshrSpanExporter``: the exporter (also the ``ashr`` ``opentelemetry_traces_exporter``).
"""

from __future__ import annotations

from ._context import context_executor, wrap_context
from ._decorators import observe
from ._exporter import AshrSpanExporter
from ._options import TracingOptions
from ._spans import Generation, Span, Trace, update_current_trace
from ._values import prepare_value

__all__ = [
    "AshrSpanExporter",
    "Generation",
    "Span",
    "Trace",
    "TracingOptions",
    "context_executor",
    "observe",
    "prepare_value",
    "update_current_trace",
    "wrap_context",
]

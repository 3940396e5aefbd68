"""Observability: trace production agents with ``Trace``/``Span``/``Generation`` on OpenTelemetry."""

"""The library versions this instrumentor supports (read by ``opentelemetry-instrument``)."""

from __future__ import annotations

_instruments = ("anthropic >= 0.34",)

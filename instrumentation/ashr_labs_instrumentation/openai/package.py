"""The library versions this instrumentor supports (read by ``opentelemetry-instrument``)."""

from __future__ import annotations

_instruments = ("openai >= 1.40",)

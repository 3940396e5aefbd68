"""Trace the ``anthropic`` library: every ``messages.create`` (sync, async, ``stream=True``),
``messages.stream()`` and ``messages.parse()`` call, and the same on ``beta.messages``, becomes
one Ashr generation (an OpenTelemetry span with GenAI semantic-convention attributes).

Install: ``pip install "ashr-labs[anthropic]"``.

From code::

    import ashr_labs
    ashr_labs.instrument(client)                    # openai and anthropic, into client's provider

or with any OpenTelemetry provider::

    from ashr_labs_instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument(tracer_provider=provider)

Zero code: ``OTEL_TRACES_EXPORTER=ashr opentelemetry-instrument python app.py`` with
``ASHR_LABS_API_KEY`` and ``ASHR_LABS_BASE_URL`` set.

Settings: ``capture_content=False`` (or ``ASHR_LABS_CAPTURE_CONTENT=0``) keeps prompts and
completions out of spans while model, token counts, timings and errors still go; ``mask=`` runs
on every value first; a secret redactor always runs.

Note: ``anthropic`` 2.x makes its own ``CLIENT`` span per API call on the global provider
(scope ``com.anthropic.sdk.python``); under our generation it nests as a child, which the
exporter maps to a ``span`` observation, so each call is still one generation.
"""

from __future__ import annotations

from typing import ClassVar

from .._instrumentor import LLMInstrumentor
from .._patch import WrapTarget
from ._targets import TARGETS
from ._wrappers import make_wrapper
from .package import _instruments

__all__ = ["AnthropicInstrumentor"]


class AnthropicInstrumentor(LLMInstrumentor):
    """Instrumentor for ``anthropic`` (see the module docstring)."""

    library: ClassVar[str] = "anthropic"
    instruments: ClassVar[tuple[str, ...]] = _instruments
    targets: ClassVar[tuple[WrapTarget, ...]] = TARGETS
    wrapper_factory = staticmethod(make_wrapper)

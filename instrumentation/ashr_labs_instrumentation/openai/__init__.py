"""Trace the ``openai`` library: every chat completion, Responses API call and embedding request
becomes one Ashr generation (an OpenTelemetry span with GenAI semantic-convention attributes).

Install: ``pip install "ashr-labs[openai]"``.

From code::

    import ashr_labs
    client = ashr_labs.AshrLabsClient.from_env()
    ashr_labs.instrument(client)                    # openai and anthropic, into client's provider

or with any OpenTelemetry provider::

    from ashr_labs_instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

Zero code: ``OTEL_TRACES_EXPORTER=ashr opentelemetry-instrument python app.py`` with
``ASHR_LABS_API_KEY`` and ``ASHR_LABS_BASE_URL`` set.

Covered: ``chat.completions.create`` (sync, async, ``stream=True``), ``chat.completions.stream()``
and ``parse()``, ``responses.create``/``stream()``/``parse()``, ``embeddings.create``, each also
through ``with_raw_response`` / ``with_streaming_response``.

Settings: ``capture_content=False`` (or ``ASHR_LABS_CAPTURE_CONTENT=0``) keeps prompts and
completions out of spans while model, token counts, timings and errors still go; ``mask=`` runs
on every value first; a secret redactor always runs. ``inject_stream_usage=True`` (off by default)
asks streams for their usage chunk (``stream_options.include_usage``) and hides that chunk from
the caller. If contrib's ``opentelemetry-instrumentation-openai-v2`` is also installed, choose one
with ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (our exporter maps both to generations).
"""

from __future__ import annotations

from typing import ClassVar

from .._instrumentor import LLMInstrumentor
from .._patch import WrapTarget
from ._targets import TARGETS
from ._wrappers import make_wrapper
from .package import _instruments

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(LLMInstrumentor):
    """Instrumentor for ``openai`` (see the module docstring)."""

    library: ClassVar[str] = "openai"
    instruments: ClassVar[tuple[str, ...]] = _instruments
    targets: ClassVar[tuple[WrapTarget, ...]] = TARGETS
    wrapper_factory = staticmethod(make_wrapper)

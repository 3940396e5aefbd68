"""``ashr_labs.instrument()``: zero-code tracing from code.

It instruments every supported LLM library (openai, anthropic) into a client's tracer provider,
so each model call becomes a generation: nested under the active ``client.trace()`` /
``@observe`` span, or a trace of its own when none is active. The libraries are patched lazily
(when imported), so calling this never imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._log import logger
from ._safety import internal_errors

if TYPE_CHECKING:
    from .observability._provider import TracingRuntime

__all__ = ["instrument", "uninstrument"]


def _runtime_of(client: Any) -> TracingRuntime | None:
    if client is not None:
        runtime: TracingRuntime = client._tracing
        return runtime
    from .observability._context import current_runtime

    return current_runtime()


def instrument(client: Any = None, *, capture_content: bool | None = None) -> list[str]:
    """Trace every openai/anthropic call into ``client``'s tracer provider.

    Args:
        client: an ``AshrLabsClient``; ``None`` means the most recently created client (with
            none, the global OpenTelemetry provider is used, as ``opentelemetry-instrument`` does).
        capture_content: ``False`` keeps prompts and completions out of spans; ``None`` follows
            the client's ``capture_content`` setting, then ``ASHR_LABS_CAPTURE_CONTENT``.

    Returns:
        The names of the libraries now instrumented. Calling again (with another client, say)
        moves the instrumentation to that client. Never raises.
    """
    done: list[str] = []
    with internal_errors():
        from ashr_labs_instrumentation import instrument_all, uninstrument_all

        runtime = _runtime_of(client)
        kwargs: dict[str, Any] = {"capture_content": capture_content}
        if runtime is not None:
            kwargs["tracer_provider"] = runtime.tracer_provider
            kwargs["options"] = runtime.options
        else:
            logger.info("ashr_labs.instrument: no client yet; using the global tracer provider")
        uninstrument_all()
        done = instrument_all(**kwargs)
    return done


def uninstrument() -> None:
    """Undo :func:`instrument`: every patched library method gets its original back."""
    with internal_errors():
        from ashr_labs_instrumentation import uninstrument_all

        uninstrument_all()

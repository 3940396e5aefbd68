"""The guarded sync/async wrappers: each patched call runs inside one generation span.

The rule everywhere (STYLE.md §6a): the telemetry around the user's call is guarded, the call
itself is not. The user's function runs exactly once, its result or exception goes back unchanged,
and an internal bug here at worst costs telemetry (or fails a test under strict mode).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from ashr_labs import _attributes as attrs
from ashr_labs._safety import internal_errors, is_instrumentation_suppressed
from ashr_labs.observability import prepare_value

from ._call import CallSpan, Extracted, GenerationConfig, Operation, Request
from ._proxy import ResponseState, read_response

__all__ = ["make_async_wrapper", "make_sync_wrapper", "run_async", "run_sync"]

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""Header both SDKs add on ``with_raw_response`` ("true" or "raw") and ``with_streaming_response``
("stream") paths."""

# Set while a patched call runs, so a patched base and subclass method (or a library method that
# calls another patched one) make one generation, not two (FAULTS.md F32).
_IN_GENERATION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ashr_labs_in_generation", default=False
)


def _start(
    tracer: Tracer, op: Operation, config: GenerationConfig, kwargs: dict[str, Any]
) -> tuple[CallSpan, dict[str, Any], Request]:
    request = op.request(kwargs)
    attributes: dict[str, AttributeValue] = {
        attrs.ASHR_OBSERVATION_TYPE: "generation",
        attrs.GEN_AI_OPERATION_NAME: op.name,
        attrs.GEN_AI_SYSTEM: config.provider,
        attrs.GEN_AI_PROVIDER_NAME: config.provider,
    }
    if request.model:
        attributes[attrs.ASHR_MODEL] = request.model
        attributes[attrs.GEN_AI_REQUEST_MODEL] = request.model
    attributes.update(request.attributes)
    value = prepare_value(request.input, config.options)
    if value is not None:
        attributes[attrs.ASHR_INPUT] = value
    name = f"{op.name} {request.model}" if request.model else op.name
    new_kwargs = kwargs
    if request.stream and op.prepare_kwargs is not None:
        new_kwargs = op.prepare_kwargs(kwargs, config)
        request.injected_usage = new_kwargs is not kwargs
    # Last, so that a span that starts always reaches a finisher.
    span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    return CallSpan(span, config, time.monotonic()), new_kwargs, request


def _raw_mode(kwargs: Mapping[str, Any]) -> str | None:
    headers = kwargs.get("extra_headers")
    if isinstance(headers, Mapping):
        value = headers.get(RAW_RESPONSE_HEADER)
        return str(value) if value is not None else None
    return None


def _parsed(raw: Any) -> Any:
    """What ``raw.parse()`` gives, or None (no body that parses: the caller's to discover).

    Raw responses of both SDKs cache what ``parse()`` returns, so the caller later gets the very
    object read here; their body is already read, so this does no I/O.
    """
    parse = getattr(raw, "parse", None)
    if parse is None or inspect.iscoroutinefunction(parse):
        return None
    try:
        return parse()
    except Exception:
        return None


async def _parsed_async(raw: Any) -> Any:
    parse = getattr(raw, "parse", None)
    if parse is None or not inspect.iscoroutinefunction(parse):
        return _parsed(raw)
    try:
        return await parse()
    except Exception:
        return None


def _complete(
    op: Operation, call: CallSpan, request: Request, mode: str | None, result: Any
) -> Any:
    """Hand back ``result`` (or a proxy around it) and end the span if nothing else will.

    ``mode`` is the raw-response header: None for a plain call, "true" (openai's
    ``with_raw_response``) or "raw" (anthropic's) for a read raw response, "stream" for
    ``with_streaming_response``, whose response records what the caller reads from it.
    """
    if mode is None and request.stream and op.stream_proxy and op.accumulator:
        with internal_errors():
            return op.stream_proxy(result, call, op.accumulator(request))
    if mode == "stream":
        with internal_errors():
            return read_response(result, ResponseState(call, op, request))
    with internal_errors():
        if mode is None and not request.stream:
            call.finish(op.response(result))
        elif mode in ("true", "raw") and not request.stream:
            call.finish(op.extract(_parsed(result)))
    with internal_errors():
        # Raw streams or a failed extraction: end with what we have.
        call.finish(Extracted())
    return result


def _begin(
    tracer: Tracer, op: Operation, config: GenerationConfig, kwargs: dict[str, Any]
) -> tuple[CallSpan, dict[str, Any], Request] | None:
    """The started span, the kwargs to call with and the request; None: call untraced."""
    if is_instrumentation_suppressed() or _IN_GENERATION.get():
        return None
    started = None
    with internal_errors():
        started = _start(tracer, op, config, kwargs)
    return started


@contextlib.contextmanager
def _calling(call: CallSpan) -> Iterator[None]:
    """The user's call runs here: current span, nested patched calls off, failure recorded."""
    token = _IN_GENERATION.set(True)
    try:
        with trace.use_span(
            call.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            yield
    except BaseException as exc:
        with internal_errors():
            call.fail(exc)
        raise
    finally:
        _IN_GENERATION.reset(token)


def run_sync(
    tracer: Tracer,
    op: Operation,
    config: GenerationConfig,
    call_with: Callable[[dict[str, Any]], Any],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``call_with(kwargs)`` inside a generation span; its outcome goes back unchanged."""
    started = _begin(tracer, op, config, kwargs)
    if started is None:
        return call_with(kwargs)
    call, call_kwargs, request = started
    with _calling(call):
        result = call_with(call_kwargs)
    return _complete(op, call, request, _raw_mode(kwargs), result)


async def run_async(
    tracer: Tracer,
    op: Operation,
    config: GenerationConfig,
    call_with: Callable[[dict[str, Any]], Awaitable[Any]],
    kwargs: dict[str, Any],
) -> Any:
    """The ``async`` twin of :func:`run_sync`; the span covers the awaited call."""
    started = _begin(tracer, op, config, kwargs)
    if started is None:
        return await call_with(kwargs)
    call, call_kwargs, request = started
    with _calling(call):
        result = await call_with(call_kwargs)
    mode = _raw_mode(kwargs)
    if mode == "raw" and not request.stream:
        parsed = None
        try:
            parsed = await _parsed_async(result)
        finally:
            with internal_errors():
                call.finish(op.extract(parsed))
    return _complete(op, call, request, mode, result)


def make_sync_wrapper(tracer: Tracer, op: Operation, config: GenerationConfig) -> Any:
    """The wrapt wrapper for a synchronous method: one generation span per call."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return run_sync(tracer, op, config, lambda kw: wrapped(*args, **kw), kwargs)

    return traced


def make_async_wrapper(tracer: Tracer, op: Operation, config: GenerationConfig) -> Any:
    """The wrapt wrapper for an ``async def`` method."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return run_async(tracer, op, config, lambda kw: wrapped(*args, **kw), kwargs)

    return traced

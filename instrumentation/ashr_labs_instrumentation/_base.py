"""Shared machinery of the instrumentors: the target table, patching and exact unpatching, the
guarded sync/async wrapper factories and the per-call generation span.

The rule everywhere (STYLE.md §6a): the telemetry around the user's call is guarded, the call
itself is not. The user's function runs exactly once, its result or exception goes back unchanged,
and an internal bug here at worst costs telemetry (or fails a test under strict mode).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import importlib
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import wrapt
from opentelemetry import trace
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from ashr_labs import _attributes as attrs
from ashr_labs._log import logger
from ashr_labs._safety import internal_errors, is_instrumentation_suppressed
from ashr_labs.observability import prepare_value
from ashr_labs.observability._options import TracingOptions

__all__ = [
    "Accumulator",
    "CallSpan",
    "Extracted",
    "GenerationConfig",
    "Operation",
    "Patcher",
    "Request",
    "WrapTarget",
    "make_async_wrapper",
    "make_sync_wrapper",
    "run_async",
    "run_sync",
]

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""Header both SDKs add on ``with_raw_response`` ("true") and ``with_streaming_response`` paths."""

# Set while a patched call runs, so a patched base and subclass method (or a library method that
# calls another patched one) make one generation, not two (FAULTS.md F32).
_IN_GENERATION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ashr_labs_in_generation", default=False
)


@dataclass(frozen=True)
class WrapTarget:
    """One method to patch: ``module`` and ``"Class.method"``; ``operation`` keys the hooks.

    ``optional`` targets exist only in some library versions: missing, they are skipped at debug
    level; a missing required target is one warning (FAULTS.md F34).
    """

    module: str
    name: str
    operation: str
    is_async: bool = False
    optional: bool = False
    fallbacks: tuple[str, ...] = ()
    """Older homes of the same class, tried in order when ``module`` lacks it."""


@dataclass(frozen=True)
class GenerationConfig:
    """What the wrappers need besides the tracer: the values pipeline's options and switches."""

    provider: str
    options: TracingOptions
    inject_stream_usage: bool = False


@dataclass
class Request:
    """What a call's keyword arguments say: span name parts, attributes and the input value."""

    model: str | None
    attributes: dict[str, AttributeValue]
    input: Any
    stream: bool = False
    injected_usage: bool = False
    """True when we added ``stream_options.include_usage``: its usage-only chunk stays hidden."""


@dataclass
class Extracted:
    """What a response says: the output value (content), non-content attributes and usage."""

    output: Any = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    usage: dict[str, int] | None = None


class Accumulator(Protocol):
    """Folds stream chunks into an :class:`Extracted`; ``add`` returns False to hide a chunk."""

    def add(self, chunk: Any) -> bool: ...

    def result(self) -> Extracted: ...


@dataclass(frozen=True)
class Operation:
    """The pure hooks of one operation (chat, responses, embeddings, messages)."""

    name: str
    request: Callable[[Mapping[str, Any]], Request]
    response: Callable[[Any], Extracted]
    accumulator: Callable[[Request], Accumulator] | None = None
    stream_proxy: Callable[[Any, CallSpan, Accumulator], Any] | None = None
    prepare_kwargs: Callable[[dict[str, Any], GenerationConfig], dict[str, Any]] | None = None


def _redacted(text: str, options: TracingOptions) -> str | None:
    """``text`` through the mask and the secret redactor, even with content capture off."""
    prepared = prepare_value(text, options, content=False)
    if prepared is None:
        return None
    try:
        decoded = json.loads(prepared)
    except ValueError:
        return None
    return decoded if isinstance(decoded, str) else None


def _status_message(exc: BaseException, options: TracingOptions) -> str:
    name = type(exc).__name__
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
        return name
    try:
        text = f"{name}: {exc}"
    except Exception:
        text = f"{name}: <unprintable>"
    return _redacted(text, options) or name


class CallSpan:
    """One generation span: started before the call, ended exactly once by whoever finishes it."""

    def __init__(self, span: Span, config: GenerationConfig, started: float) -> None:
        self.span = span
        self.config = config
        self.started = started
        self._lock = threading.Lock()
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    def _claim(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def finish(self, extracted: Extracted, *, incomplete: str | None = None) -> None:
        """Set the response attributes and end the span (no-op if it already ended)."""
        if not self._claim():
            return
        try:
            self._set_response(extracted, incomplete)
        finally:
            self.span.end()

    def fail(self, exc: BaseException, partial: Extracted | None = None) -> None:
        """Mark ERROR with the exception's class and (redacted) message, then end the span."""
        if not self._claim():
            return
        try:
            if partial is not None:
                self._set_response(partial, None)
            message = _status_message(exc, self.config.options)
            self.span.set_attribute(attrs.ASHR_LEVEL, "ERROR")
            self.span.set_attribute(attrs.ASHR_STATUS_MESSAGE, message)
            self.span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, message))
        finally:
            self.span.end()

    def mark_first_chunk(self) -> None:
        self.span.set_attribute(
            attrs.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, time.monotonic() - self.started
        )

    def _set_response(self, extracted: Extracted, incomplete: str | None) -> None:
        span = self.span
        span.set_attributes(extracted.attributes)
        if extracted.usage:
            span.set_attribute(attrs.ASHR_USAGE, json.dumps(extracted.usage, sort_keys=True))
        if extracted.output is not None:
            output = prepare_value(extracted.output, self.config.options)
            if output is not None:
                span.set_attribute(attrs.ASHR_OUTPUT, output)
        if incomplete is not None:
            meta = {"incomplete": True, "reason": incomplete}
            span.set_attribute(attrs.ASHR_METADATA, json.dumps(meta))


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


def _complete(
    op: Operation, call: CallSpan, request: Request, mode: str | None, result: Any
) -> Any:
    """Hand back ``result`` (or a stream proxy around it) and end the span if nothing else will."""
    if mode is None and request.stream and op.stream_proxy and op.accumulator:
        with internal_errors():
            return op.stream_proxy(result, call, op.accumulator(request))
    with internal_errors():
        if mode == "true" and not request.stream:
            # The legacy raw response caches what parse() returns, so the caller later gets the
            # very object read here; a body that does not parse is the caller's to discover.
            try:
                parsed = result.parse()
            except Exception:
                parsed = None
            call.finish(op.response(parsed) if parsed is not None else Extracted())
        elif mode is None and not request.stream:
            call.finish(op.response(result))
    with internal_errors():
        # Raw streams, unread streaming responses or a failed extraction: end with what we have.
        call.finish(Extracted())
    return result


def run_sync(
    tracer: Tracer,
    op: Operation,
    config: GenerationConfig,
    call_with: Callable[[dict[str, Any]], Any],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``call_with(kwargs)`` inside a generation span; its outcome goes back unchanged."""
    if is_instrumentation_suppressed() or _IN_GENERATION.get():
        return call_with(kwargs)
    started = None
    with internal_errors():
        started = _start(tracer, op, config, kwargs)
    if started is None:
        return call_with(kwargs)
    call, call_kwargs, request = started
    token = _IN_GENERATION.set(True)
    try:
        with trace.use_span(
            call.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            result = call_with(call_kwargs)
    except BaseException as exc:
        with internal_errors():
            call.fail(exc)
        raise
    finally:
        _IN_GENERATION.reset(token)
    return _complete(op, call, request, _raw_mode(kwargs), result)


async def run_async(
    tracer: Tracer,
    op: Operation,
    config: GenerationConfig,
    call_with: Callable[[dict[str, Any]], Awaitable[Any]],
    kwargs: dict[str, Any],
) -> Any:
    """The ``async`` twin of :func:`run_sync`; the span covers the awaited call."""
    if is_instrumentation_suppressed() or _IN_GENERATION.get():
        return await call_with(kwargs)
    started = None
    with internal_errors():
        started = _start(tracer, op, config, kwargs)
    if started is None:
        return await call_with(kwargs)
    call, call_kwargs, request = started
    token = _IN_GENERATION.set(True)
    try:
        with trace.use_span(
            call.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            result = await call_with(call_kwargs)
    except BaseException as exc:
        with internal_errors():
            call.fail(exc)
        raise
    finally:
        _IN_GENERATION.reset(token)
    return _complete(op, call, request, _raw_mode(kwargs), result)


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


class _BoundMethodWrapper(wrapt.BoundFunctionWrapper[..., Any]):
    """A patched bound method that copies and pickles the way a plain bound method does (F33)."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (getattr, (self.__self__, self.__name__))

    def __copy__(self) -> Any:
        return getattr(self.__self__, self.__name__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return getattr(copy.deepcopy(self.__self__, memo), self.__name__)


class _MethodWrapper(wrapt.FunctionWrapper[..., Any]):
    __bound_function_wrapper__ = _BoundMethodWrapper

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class Patcher:
    """Applies a target table and undoes it exactly.

    Targets whose module is not imported yet are applied by a post-import hook, so instrumenting
    never imports the library itself; ``restore()`` puts back every saved ``__dict__`` entry.
    """

    def __init__(self, root_module: str) -> None:
        self._root = root_module
        self._saved: list[tuple[type, str, Any]] = []
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def patched(self) -> list[tuple[type, str, Any]]:
        return list(self._saved)

    def apply(
        self, targets: tuple[WrapTarget, ...], wrapper_for: Callable[[WrapTarget], Any]
    ) -> None:
        self._generation += 1
        generation = self._generation
        if self._root in sys.modules:
            if sys.modules[self._root] is None:  # blocked on purpose: nothing to patch
                logger.debug("ashr_labs: %s cannot be imported; not instrumented", self._root)
                return
            self._apply_now(targets, wrapper_for)
            return

        def on_import(_module: Any) -> None:
            with internal_errors():
                if generation == self._generation:
                    self._apply_now(targets, wrapper_for)

        wrapt.register_post_import_hook(on_import, self._root)

    def _apply_now(
        self, targets: tuple[WrapTarget, ...], wrapper_for: Callable[[WrapTarget], Any]
    ) -> None:
        with self._lock:
            for target in targets:
                self._apply_one(target, wrapper_for)

    def _apply_one(self, target: WrapTarget, wrapper_for: Callable[[WrapTarget], Any]) -> None:
        class_name, _, method = target.name.partition(".")
        problem = "not found"
        for module_name in (target.module, *target.fallbacks):
            try:
                owner = getattr(importlib.import_module(module_name), class_name)
                original = owner.__dict__[method]
                break
            except (ImportError, AttributeError, KeyError) as exc:
                problem = type(exc).__name__
        else:
            log = logger.debug if target.optional else logger.warning
            log(
                "ashr_labs: %s.%s not found (%s); not instrumented",
                target.module,
                target.name,
                problem,
            )
            return
        if isinstance(original, _MethodWrapper):
            return
        setattr(owner, method, _MethodWrapper(original, wrapper_for(target)))
        self._saved.append((owner, method, original))

    def restore(self) -> None:
        """Put back every original (``cls.__dict__[name] is original`` afterwards)."""
        with self._lock:
            self._generation += 1
            for owner, method, original in reversed(self._saved):
                setattr(owner, method, original)
            self._saved.clear()

"""One generation span and the values that fill it: the wrappers' configuration, what a
request and a response say (:class:`Request`, :class:`Extracted`), the pure hooks of an
operation, and :class:`CallSpan`, which ends its span exactly once whoever finishes first.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ashr_labs import _attributes as attrs
from ashr_labs.observability import prepare_value
from ashr_labs.observability._options import TracingOptions

__all__ = ["Accumulator", "CallSpan", "Extracted", "GenerationConfig", "Operation", "Request"]


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

    def extract(self, response: Any) -> Extracted:
        """What ``response`` says; nothing when there is none."""
        return self.response(response) if response is not None else Extracted()


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

"""``Trace``, ``Span`` and ``Generation``: thin wrappers holding an OTel span.

A ``Trace`` is a root OTel span (always a new OTel trace; a foreign active span becomes a span
link), ``Span``/``Generation`` are child spans, ``event()`` is an OTel span event on its parent.
Every value goes through ``prepare_value`` (mask, redactor, size cap) before it is set on the
span, so other processors on the provider see masked values. Nothing here raises into the
caller: misuse (ending twice, updating an ended span) logs a rate-limited warning.
"""

from __future__ import annotations

import abc
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from .. import _attributes as attrs
from .._safety import internal_errors
from ._context import TraceState, current_trace_state, forget_trace, register_trace
from ._ratelimit import warn_limited
from ._values import clean_text, prepare_value, redact_text, safe_type_name, text_of

if TYPE_CHECKING:
    from opentelemetry.trace import Span as OtelSpan

    from ._provider import TracingRuntime

__all__ = [
    "Generation",
    "Span",
    "Trace",
    "describe_exception",
    "start_observation",
    "start_trace",
    "update_current_trace",
]

ERROR = "ERROR"


def describe_exception(exc: BaseException) -> str:
    """``"<Class>: <message>"``; ``<unprintable>`` when ``str()`` raises (F22)."""
    name = safe_type_name(exc)
    text = text_of(exc)
    if text is None:
        text = "<unprintable>"
    return f"{name}: {text}" if text else name


def _text(value: Any) -> str | None:
    """A plain ``str`` for ids and names; anything else is shown by its type, never raising."""
    if value is None:
        return None
    if isinstance(value, str):
        # A subclass may override __str__ (and raise): clean_text uses str's own conversion.
        return clean_text(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    return f"<{safe_type_name(value)}>"


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [_text(value) or ""]
    try:
        items = list(value)[:100] if isinstance(value, Sequence | set | frozenset) else [value]
    except Exception:
        return [f"<{safe_type_name(value)}>"]
    return [t for t in (_text(item) for item in items) if t is not None]


class _Observation:
    """What spans, generations and traces share: the OTel span, values, events, ending."""

    _kind = "span"

    def __init__(self, runtime: TracingRuntime, span: OtelSpan, state: TraceState | None) -> None:
        self._runtime = runtime
        self._span = span
        self._state = state
        self._ended = False
        self._own: dict[str, AttributeValue] = {}
        self._token: object | None = None

    # -- helpers ------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The observation id: the OTel span id as 16 lower-case hex characters."""
        return format(self._span.get_span_context().span_id, "016x")

    @property
    def otel_span(self) -> OtelSpan:
        """The underlying OpenTelemetry span (for users who want to add their own attributes)."""
        return self._span

    def _start_ns(self) -> int:
        return int(getattr(self._span, "start_time", 0) or 0)

    def _recording(self) -> bool:
        return self._span.is_recording()

    def _set(self, key: str, value: AttributeValue | None) -> None:
        if value is None:
            return
        self._own[key] = value
        self._span.set_attribute(key, value)

    def _value(self, value: Any, *, content: bool = True) -> str | None:
        return prepare_value(value, self._runtime.options, content=content)

    def _check_open(self, what: str) -> bool:
        if self._ended:
            warn_limited(
                f"ended:{what}",
                "ashr_labs: %s on a %s that already ended; ignored",
                what,
                self._kind,
            )
            return False
        return True

    # -- children -----------------------------------------------------------------------------
    def span(self, name: str, *, input: Any = None, metadata: Any = None) -> Span:
        """Create a child span."""
        child: Span | None = None
        with internal_errors():
            child = self._start_child(Span, name, input, metadata, None)
        return child if child is not None else _noop_child(self, Span)

    def generation(
        self, name: str, *, model: str | None = None, input: Any = None, metadata: Any = None
    ) -> Generation:
        """Create a child generation (an LLM call)."""
        child: Generation | None = None
        with internal_errors():
            child = self._start_child(Generation, name, input, metadata, model)
        return child if child is not None else _noop_child(self, Generation)

    def _start_child(
        self, cls: type[_Child], name: str, input: Any, metadata: Any, model: str | None
    ) -> _Child:
        if isinstance(self, Trace) and self._ended:
            self._check_open(f"{cls._kind}()")
            return _noop_child(self, cls)
        if not self._recording():
            return _noop_child(self, cls)
        parent_ctx = otel_trace.set_span_in_context(self._span, otel_context.Context())
        return start_observation(
            self._runtime,
            self._state,
            cls,
            name,
            input=input,
            metadata=metadata,
            model=model,
            context=parent_ctx,
        )

    def event(
        self, name: str, *, input: Any = None, metadata: Any = None, level: str | None = None
    ) -> None:
        """Record a point-in-time event (an OTel span event on this observation)."""
        with internal_errors():
            if not self._check_open("event()") or not self._recording():
                return
            event_attrs: dict[str, AttributeValue] = {}
            for key, value, content in (
                (attrs.ASHR_INPUT, input, True),
                (attrs.ASHR_METADATA, metadata, False),
            ):
                prepared = self._value(value, content=content)
                if prepared is not None:
                    event_attrs[key] = prepared
            level_text = _text(level)
            if level_text is not None:
                event_attrs[attrs.ASHR_LEVEL] = level_text
            self._span.add_event(_text(name) or "", attributes=event_attrs)

    # -- ending -------------------------------------------------------------------------------
    def _finish(self, level: Any, status_message: Any) -> None:
        if self._state is not None:
            self._state.open_children.discard(self)
        level_text = _text(level)
        message = _text(status_message)
        if message is not None:
            message = redact_text(message)
        self._set(attrs.ASHR_LEVEL, level_text)
        self._set(attrs.ASHR_STATUS_MESSAGE, message)
        if level_text == ERROR:
            self._span.set_status(Status(StatusCode.ERROR, message))
        self._reassert_own()
        self._span.end()

    def _reassert_own(self) -> None:
        """Put back our attributes if a flood of foreign ones evicted them (F25)."""
        current = getattr(self._span, "attributes", None)
        if current is None or len(current) < 64:
            return
        for key, value in self._own.items():
            if current.get(key) != value:
                self._span.set_attribute(key, value)

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self: _O) -> _O:
        with internal_errors():
            self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        """End it unless the user did (as failed when the block raised); the exception, if
        any, propagates unchanged."""
        with internal_errors():
            if not self._ended:
                if exc is None:
                    self.end()
                else:
                    self._end_failed(describe_exception(exc))
        with internal_errors():
            token, self._token = self._token, None
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    @abc.abstractmethod
    def end(self, *, output: Any = None) -> Any:
        """End this observation (each kind adds its own keywords)."""

    @abc.abstractmethod
    def _end_failed(self, message: str, output: Any = None) -> None:
        """End this observation as failed (its ``with`` block or decorated call raised);
        ``output`` is what a span had produced so far."""


class Span(_Observation):
    """A unit of work inside a trace (a tool call, a retrieval step...)."""

    _kind = "span"

    def end(
        self, *, output: Any = None, status_message: str | None = None, level: str | None = None
    ) -> None:
        """Mark the span as complete. Ending twice logs a warning and changes nothing."""
        self._end(output, None, status_message, level)

    def _end(self, output: Any, usage: Any, status_message: Any, level: Any) -> None:
        with internal_errors():
            if not self._check_open("end()"):
                return
            self._ended = True
            if self._recording():
                self._set(attrs.ASHR_OUTPUT, self._value(output))
                if usage is not None:
                    self._set_usage(usage)
                self._finish(level, status_message)

    def _set_usage(self, usage: Any) -> None:
        self._set(attrs.ASHR_USAGE, self._value(usage, content=False))
        if isinstance(usage, Mapping):
            for source, key in (
                ("input_tokens", attrs.GEN_AI_USAGE_INPUT_TOKENS),
                ("output_tokens", attrs.GEN_AI_USAGE_OUTPUT_TOKENS),
            ):
                count = usage.get(source)
                if type(count) is int:
                    self._set(key, count)

    def _end_failed(self, message: str, output: Any = None) -> None:
        self.end(output=output, level=ERROR, status_message=message)


class Generation(Span):
    """An LLM call: a span with a model, token usage and GenAI semantic-convention attributes."""

    _kind = "generation"

    def end(
        self,
        *,
        output: Any = None,
        usage: Mapping[str, Any] | None = None,
        status_message: str | None = None,
        level: str | None = None,
    ) -> None:
        """Mark complete with token usage (``{"input_tokens": int, "output_tokens": int}``)."""
        self._end(output, usage, status_message, level)


_Child = Any  # Span or Generation; kept loose because Generation.end widens Span.end
_O = TypeVar("_O", bound=_Observation)


class Trace(_Observation):
    """One agent interaction: the root OTel span of a new trace.

    ``trace_id`` (the OTel trace id, 32 hex) is known at once. ``end()`` returns at once with
    ``{"status": "queued", "trace_id": ...}``; ``end(flush=True)`` waits up to the client's
    ``flush_timeout_s`` and returns the server's answer or ``{"status": "error", ...}``.
    """

    _kind = "trace"

    @property
    def trace_id(self) -> str:
        """The OTel trace id as 32 lower-case hex characters (also the server's trace id)."""
        return format(self._span.get_span_context().trace_id, "032x")

    def end(self, *, output: Any = None, flush: bool = False) -> dict[str, Any]:
        """End the trace and hand it to the exporter. Never raises.

        Children the user never ended are ended with it. With tracing off the answer is
        ``{"status": "disabled", "trace_id": ...}``. Ending twice logs a warning and changes
        nothing: ``end(flush=True)`` after a ``with`` block still waits for the trace's delivery
        and returns the server's answer; a plain second ``end()`` gives the error dict.
        """
        result: dict[str, Any] = {"status": "queued", "trace_id": self.trace_id}
        with internal_errors():
            if not self._check_open("end()"):
                if flush and self._runtime.processor is not None:
                    return self._runtime.flush_trace(self.trace_id)
                return {"status": "error", "message": "trace already ended"}
            self._ended = True
            if not self._recording():
                return {"status": "disabled", "trace_id": self.trace_id}
            self._set(attrs.ASHR_TRACE_OUTPUT, self._value(output))
            self._end_open_children()
            self._reassert_own()
            self._span.end()
            forget_trace(self._span.get_span_context().trace_id)
            if flush:
                result = self._runtime.flush_trace(self.trace_id)
        return result

    def _end_open_children(self) -> None:
        """Children never ended by the user end with the trace, so they travel with it."""
        if self._state is None:
            return
        # copy() is atomic; other threads may still be adding or ending children.
        for child in sorted(self._state.open_children.copy(), key=lambda c: -c._start_ns()):
            if not child._ended:
                child._ended = True
                child._finish(None, None)

    def _end_failed(self, message: str, output: Any = None) -> None:
        if self._recording():
            self._span.set_status(Status(StatusCode.ERROR, message))
        self.end(output={"error": message})


def start_observation(
    runtime: TracingRuntime,
    state: TraceState | None,
    cls: type[_Child],
    name: str,
    *,
    input: Any = None,
    metadata: Any = None,
    model: str | None = None,
    context: otel_context.Context | None = None,
) -> _Child:
    """Start a ``Span``/``Generation`` under ``context`` (default: the active context)."""
    options = runtime.options
    attributes: dict[str, AttributeValue] = {attrs.ASHR_OBSERVATION_TYPE: cls._kind}
    for key, value, content in (
        (attrs.ASHR_INPUT, input, True),
        (attrs.ASHR_METADATA, metadata, False),
    ):
        prepared = prepare_value(value, options, content=content)
        if prepared is not None:
            attributes[key] = prepared
    if cls._kind == "generation":
        attributes[attrs.GEN_AI_OPERATION_NAME] = "chat"
        model_text = _text(model)
        if model_text is not None:
            attributes[attrs.ASHR_MODEL] = model_text
            attributes[attrs.GEN_AI_REQUEST_MODEL] = model_text
    span = runtime.tracer.start_span(_text(name) or "", context=context, attributes=attributes)
    child = cls(runtime, span, state)
    child._own.update(attributes)
    if state is not None and span.is_recording():
        state.open_children.add(child)
    return child


def _noop_child(parent: _Observation, cls: type[_Child]) -> _Child:
    span = otel_trace.NonRecordingSpan(parent._span.get_span_context())
    return cls(parent._runtime, span, None)


def start_trace(
    runtime: TracingRuntime,
    name: str,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    metadata: Any = None,
    tags: list[str] | None = None,
    input: Any = None,
) -> Trace:
    """Open a new trace on ``runtime`` (a new OTel trace, linked to any active foreign span)."""
    active = otel_trace.get_current_span().get_span_context()
    links = [Link(active)] if active.is_valid else None
    user = _text(user_id)
    session = _text(session_id)
    tag_list = _tags(tags)
    attributes: dict[str, AttributeValue] = {
        attrs.ASHR_OBSERVATION_TYPE: "trace",
        attrs.ASHR_TRACE_NAME: _text(name) or "",
    }
    if user is not None:
        attributes[attrs.ASHR_USER_ID] = user
    if session is not None:
        attributes[attrs.ASHR_SESSION_ID] = session
    if tag_list:
        attributes[attrs.ASHR_TAGS] = tag_list
    if runtime.enabled:
        for key, value, content in (
            (attrs.ASHR_TRACE_METADATA, metadata, False),
            (attrs.ASHR_TRACE_INPUT, input, True),
        ):
            prepared = prepare_value(value, runtime.options, content=content)
            if prepared is not None:
                attributes[key] = prepared
    span = runtime.tracer.start_span(
        _text(name) or "",
        context=otel_context.Context(),
        kind=SpanKind.INTERNAL,
        attributes=attributes,
        links=links,
    )
    if not span.is_recording():
        return Trace(runtime, span, None)
    state = TraceState(root=span, runtime=runtime, tags=tag_list)
    trace = Trace(runtime, span, state)
    trace._own.update(attributes)
    # The registry holds the state weakly; the Trace keeps it alive until it is dropped.
    register_trace(span.get_span_context().trace_id, state)
    return trace


def update_current_trace(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    tags: list[str] | None = None,
    metadata: Any = None,
) -> None:
    """Set trace-wide attributes of the active Ashr trace from anywhere inside it.

    ``user_id``/``session_id`` replace the trace's (they live on the root span and the exporter
    applies them to the whole trace); ``tags`` are added to the trace's tags; ``metadata``
    replaces the trace metadata. Outside a trace: a warning, no-op.
    """
    with internal_errors():
        state = current_trace_state()
        if state is None:
            warn_limited(
                "update_current_trace:none",
                "ashr_labs: update_current_trace() called outside an Ashr trace; ignored",
            )
            return
        root = state.root
        if user_id is not None:
            root.set_attribute(attrs.ASHR_USER_ID, _text(user_id) or "")
        if session_id is not None:
            root.set_attribute(attrs.ASHR_SESSION_ID, _text(session_id) or "")
        if tags is not None:
            merged = list(dict.fromkeys([*state.tags, *_tags(tags)]))
            state.tags = merged
            root.set_attribute(attrs.ASHR_TAGS, merged)
        if metadata is not None:
            prepared = prepare_value(metadata, state.runtime.options, content=False)
            if prepared is not None:
                root.set_attribute(attrs.ASHR_TRACE_METADATA, prepared)

"""Pure mapping: the finished spans of one OTel trace -> one ``ingest_observability_trace`` payload.

protocol.md §2.2 shape (name, user_id, session_id, metadata, tags, observations, output) plus our
optional keys (``id``, ``start_time``, ``end_time``, ``input``, ``incomplete``,
``dropped_spans``). Ashr spans map by their ``ashr.*`` attributes (already masked when set);
foreign spans inside the trace become ``span`` observations, GenAI-convention spans become
``generation`` observations, and their values go through the mask and redactor here (F36).
One model call seen by two instrumentations (anthropic 2.x's own call span under our generation,
contrib openai-v2 beside ours) stays one generation: a GenAI span nested in a generation, or
holding one of ours, maps to a ``span``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import StatusCode

from .. import _attributes as attrs
from .._genai import (
    SpanFacts,
    duplicate_generations,
    generation_candidate,
    is_ashr,
    is_gen_ai,
)
from ._values import (
    dumps_bounded,
    prepare_value,
    redact_text,
    to_json_value,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Event, ReadableSpan

    from ._options import TracingOptions

__all__ = [
    "ASHR_FOREIGN_PARENT",
    "ASHR_LOCAL_ROOT",
    "SentHeader",
    "build_trace_payload",
    "format_time",
    "is_local_root",
    "is_relevant",
    "sent_header",
]

ASHR_LOCAL_ROOT = "ashr.local_root"
"""Set by our processor on a span whose parent is not recorded by the same provider."""
ASHR_FOREIGN_PARENT = "ashr.foreign_parent"
"""Such a span inside one of our open traces: a top-level observation of that trace."""

DROPPED_ATTRIBUTES_KEY = "_ashr_dropped_attributes"
_ASHR_PREFIX = "ashr."
_INDEXED_CONTENT_PREFIXES = (attrs.GEN_AI_PROMPT_PREFIX + ".", attrs.GEN_AI_COMPLETION_PREFIX + ".")
_CONTENT_GEN_AI_KEYS = (
    attrs.GEN_AI_INPUT_MESSAGES,
    attrs.GEN_AI_OUTPUT_MESSAGES,
    attrs.GEN_AI_SYSTEM_INSTRUCTIONS,
)


def format_time(ns: int | None) -> str | None:
    """Nanoseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC)."""
    if ns is None:
        return None
    seconds, rest = divmod(int(ns), 1_000_000_000)
    stamp = _dt.datetime.fromtimestamp(seconds, tz=_dt.timezone.utc)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{rest // 1000:06d}Z"


def is_local_root(span: ReadableSpan) -> bool:
    """A span that closes a trace for the exporter: no parent, a remote one, or a foreign one."""
    parent = span.parent
    if parent is None or parent.is_remote:
        return True
    return bool((span.attributes or {}).get(ASHR_LOCAL_ROOT))


def _is_ashr(span: ReadableSpan) -> bool:
    return is_ashr(span.attributes or {})


def _is_gen_ai(span: ReadableSpan) -> bool:
    return is_gen_ai(span.attributes or {})


def _scope_name(span: ReadableSpan) -> str:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else ""


def is_relevant(span: ReadableSpan) -> bool:
    """Ashr spans, GenAI-convention spans and spans of known LLM instrumentations."""
    return (
        _is_ashr(span)
        or _is_gen_ai(span)
        or _scope_name(span).startswith(attrs.KNOWN_LLM_SCOPE_PREFIXES)
    )


def _span_hex(span_id: int) -> str:
    return format(span_id, "016x")


def _parse_json(text: Any) -> Any:
    """Values we set are JSON text; anything else (a foreign writer) is taken as it is."""
    if type(text) is not str:
        return to_json_value(text)
    try:
        return json.loads(text)
    except ValueError:
        return redact_text(text)


def _facts(spans: Sequence[ReadableSpan]) -> Iterable[SpanFacts]:
    for span in spans:
        if span.context is not None:
            parent = span.parent.span_id if span.parent is not None else None
            yield span.context.span_id, parent, span.attributes or {}


class _Mapper:
    """Maps spans with one set of options; ``value_cap`` re-cuts values (a 413 resend, F09).

    ``duplicates``: ids of GenAI spans to map as plain spans (see ``duplicate_generations``).
    """

    def __init__(
        self,
        options: TracingOptions | None,
        value_cap: int | None,
        duplicates: frozenset[Hashable] = frozenset(),
    ) -> None:
        self.options = options
        self.value_cap = value_cap
        self.duplicates = duplicates

    def own(self, text: Any) -> Any:
        """A value from one of our attributes: parsed (already masked and redacted)."""
        if text is None:
            return None
        value = _parse_json(text)
        return self._cap(value)

    def foreign(self, value: Any, *, content: bool = True) -> Any:
        """A value from a foreign span: capture switch, mask, redactor, cap."""
        if value is None:
            return None
        if type(value) is str and value[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        prepared = prepare_value(value, self.options, content=content)
        return None if prepared is None else self._cap(json.loads(prepared))

    def _cap(self, value: Any) -> Any:
        if self.value_cap is None:
            return value
        return json.loads(dumps_bounded(value, self.value_cap))

    def observation(self, span: ReadableSpan, parent_id: str | None) -> dict[str, Any]:
        attributes: Mapping[str, Any] = span.attributes or {}
        ashr_type = attributes.get(attrs.ASHR_OBSERVATION_TYPE)
        if ashr_type in ("span", "generation"):
            obs = self._ashr_observation(span, attributes, str(ashr_type))
        else:
            obs = self._foreign_observation(span, attributes)
        obs["id"] = _span_hex(span.context.span_id) if span.context else "0" * 16
        obs["name"] = span.name
        obs["parent_observation_id"] = parent_id
        obs["start_time"] = format_time(span.start_time)
        if span.end_time is not None:
            obs["end_time"] = format_time(span.end_time)
        if obs.get("level") is None and span.status.status_code is StatusCode.ERROR:
            obs["level"] = "ERROR"
            if obs.get("status_message") is None and span.status.description:
                obs["status_message"] = redact_text(span.status.description)
        if span.dropped_attributes:
            obs["metadata"] = _with_key(
                obs.get("metadata"), DROPPED_ATTRIBUTES_KEY, span.dropped_attributes
            )
        return {k: v for k, v in obs.items() if v is not None or k in _ALWAYS_KEYS}

    def _ashr_observation(
        self, span: ReadableSpan, attributes: Mapping[str, Any], kind: str
    ) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "type": kind,
            "input": self.own(attributes.get(attrs.ASHR_INPUT)),
            "output": self.own(attributes.get(attrs.ASHR_OUTPUT)),
            "metadata": self.own(attributes.get(attrs.ASHR_METADATA)),
            "level": attributes.get(attrs.ASHR_LEVEL),
            "status_message": _redacted(attributes.get(attrs.ASHR_STATUS_MESSAGE)),
        }
        if kind == "generation":
            obs["model"] = attributes.get(attrs.ASHR_MODEL) or _model(attributes)
            usage = self.own(attributes.get(attrs.ASHR_USAGE))
            obs["usage"] = usage if usage is not None else _usage(attributes)
        return obs

    def _foreign_observation(
        self, span: ReadableSpan, attributes: Mapping[str, Any]
    ) -> dict[str, Any]:
        generation = generation_candidate(attributes) and (
            span.context is None or span.context.span_id not in self.duplicates
        )
        extra = {
            k: v
            for k, v in attributes.items()
            if not k.startswith(_ASHR_PREFIX)
            and k not in _CONTENT_GEN_AI_KEYS
            and not k.startswith(_INDEXED_CONTENT_PREFIXES)
        }
        obs: dict[str, Any] = {
            "type": "generation" if generation else "span",
            "input": None,
            "output": None,
            "metadata": self.foreign(dict(extra), content=False) if extra else None,
            "level": None,
        }
        if generation:
            obs["input"] = self.foreign(_gen_ai_input(attributes, span.events))
            obs["output"] = self.foreign(_gen_ai_output(attributes, span.events))
            obs["model"] = _model(attributes)
            obs["usage"] = _usage(attributes)
        return obs

    def event(
        self, span: ReadableSpan, event: Event, index: int, parent_id: str | None, ashr: bool
    ) -> dict[str, Any]:
        attributes: Mapping[str, Any] = event.attributes or {}
        seed = f"{span.context.span_id if span.context else 0}:{index}".encode()
        obs: dict[str, Any] = {
            "id": hashlib.sha256(seed).hexdigest()[:16],
            "type": "event",
            "name": event.name,
            "parent_observation_id": parent_id,
            "start_time": format_time(event.timestamp),
        }
        if attrs.ASHR_INPUT in attributes or attrs.ASHR_LEVEL in attributes or ashr:
            obs["input"] = self.own(attributes.get(attrs.ASHR_INPUT))
            obs["metadata"] = self.own(attributes.get(attrs.ASHR_METADATA))
            obs["level"] = attributes.get(attrs.ASHR_LEVEL)
        else:
            obs["input"] = None
            obs["metadata"] = self.foreign(dict(attributes), content=True) if attributes else None
            obs["level"] = "ERROR" if event.name == "exception" else None
        return obs


_ALWAYS_KEYS = frozenset(
    {"id", "type", "name", "parent_observation_id", "start_time", "input", "metadata", "level"}
)


def _redacted(text: Any) -> Any:
    return redact_text(text) if type(text) is str else text


def _with_key(metadata: Any, key: str, value: Any) -> Any:
    if metadata is None:
        return {key: value}
    if isinstance(metadata, dict):
        return {**metadata, key: value}
    return {"value": metadata, key: value}


def _model(attributes: Mapping[str, Any]) -> str | None:
    model = attributes.get(attrs.GEN_AI_RESPONSE_MODEL) or attributes.get(
        attrs.GEN_AI_REQUEST_MODEL
    )
    return str(model) if model is not None else None


def _usage(attributes: Mapping[str, Any]) -> dict[str, int] | None:
    usage: dict[str, int] = {}
    for target, keys in (
        ("input_tokens", (attrs.GEN_AI_USAGE_INPUT_TOKENS, attrs.GEN_AI_USAGE_PROMPT_TOKENS)),
        ("output_tokens", (attrs.GEN_AI_USAGE_OUTPUT_TOKENS, attrs.GEN_AI_USAGE_COMPLETION_TOKENS)),
    ):
        for key in keys:
            value = attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                usage[target] = value
                break
    return usage or None


def _indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry's ``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content`` -> a message list."""
    start = prefix + "."
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(start):
            continue
        index_text, _, field = key[len(start) :].partition(".")
        if index_text.isdigit() and field:
            messages.setdefault(int(index_text), {})[field] = value
    return [messages[i] for i in sorted(messages)] or None


def _event_messages(events: Iterable[Event], suffixes: tuple[str, ...]) -> list[Any] | None:
    found = [
        dict(e.attributes or {}) | {"event": e.name}
        for e in events
        if e.name.startswith(attrs.GEN_AI_PREFIX) and e.name.endswith(suffixes)
    ]
    return found or None


def _gen_ai_input(attributes: Mapping[str, Any], events: Sequence[Event]) -> Any:
    value = attributes.get(attrs.GEN_AI_INPUT_MESSAGES)
    if value is not None:
        return value
    return _indexed(attributes, attrs.GEN_AI_PROMPT_PREFIX) or _event_messages(
        events, (".system.message", ".user.message", ".assistant.message", ".tool.message")
    )


def _gen_ai_output(attributes: Mapping[str, Any], events: Sequence[Event]) -> Any:
    value = attributes.get(attrs.GEN_AI_OUTPUT_MESSAGES)
    if value is not None:
        return value
    return _indexed(attributes, attrs.GEN_AI_COMPLETION_PREFIX) or _event_messages(
        events, (".choice",)
    )


@dataclass(frozen=True)
class SentHeader:
    """The small header fields a trace was sent with: name, ids and tags (strings only).

    A span ending after its trace was sent travels in a late partial supplement without the
    root; the supplement repeats these so any consumer of that one payload still sees whose
    trace it is. Input, output and metadata are not kept (they can be large).
    """

    name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: tuple[str, ...] = ()


def sent_header(spans: Sequence[ReadableSpan], *, max_chars: int, max_tags: int) -> SentHeader:
    """The header fields of these spans' payload, within ``max_chars`` characters in all.

    Fields are taken in order (name, user id, session id, then tags up to ``max_tags``) and
    kept whole or not at all: a cut id would name someone else.
    """
    ordered = sorted(spans, key=lambda s: s.start_time or 0)
    root = next((s for s in ordered if is_local_root(s)), None)
    ashr_root = root if root is not None and _root_type(root) == "trace" else None
    fields = _header_fields(ashr_root, root, ordered)
    budget = max_chars
    kept: dict[str, str | None] = {}
    for key in ("name", "user_id", "session_id"):
        value = fields[key]
        if isinstance(value, str) and len(value) <= budget:
            kept[key] = value
            budget -= len(value)
        else:
            kept[key] = None
    tags: list[str] = []
    for tag in fields["tags"][:max_tags]:
        if len(tag) > budget:
            break
        tags.append(tag)
        budget -= len(tag)
    return SentHeader(kept["name"], kept["user_id"], kept["session_id"], tuple(tags))


def build_trace_payload(
    spans: Sequence[ReadableSpan],
    *,
    trace_id: int,
    incomplete: bool = False,
    dropped_spans: int = 0,
    options: TracingOptions | None = None,
    value_cap: int | None = None,
    open_root: ReadableSpan | None = None,
    ashr_root_span_id: int | None = None,
    sent: SentHeader | None = None,
) -> dict[str, Any]:
    """The ingest payload for one trace's finished spans (creation order, protocol §2.2).

    ``open_root``: the still-open Ashr root of a partial trace, read for the trace header only.
    ``ashr_root_span_id``: the Ashr root of a trace already sent (a late partial), whose
    children are top-level observations. Other parents are kept even when they travel in
    another payload of the same trace (the server merges them). ``sent``: that trace's header
    as it was sent; its fields win over those guessed from the late spans.
    """
    mapper = _Mapper(options, value_cap, duplicate_generations(_facts(spans)))
    ordered = sorted(spans, key=lambda s: s.start_time or 0)
    root = next((s for s in ordered if is_local_root(s)), None)
    ashr_root = root if root is not None and _root_type(root) == "trace" else None
    if ashr_root is not None and ashr_root.context is not None:
        ashr_root_span_id = ashr_root.context.span_id
    elif (
        open_root is not None and open_root.context is not None and _root_type(open_root) == "trace"
    ):
        ashr_root_span_id = open_root.context.span_id
    observations: list[dict[str, Any]] = []
    for span in ordered:
        if span is ashr_root:
            continue
        parent = span.parent
        parent_id = None
        if (
            parent is not None
            and not is_local_root(span)
            and parent.span_id != ashr_root_span_id
            and not (span.attributes or {}).get(ASHR_FOREIGN_PARENT)
        ):
            parent_id = _span_hex(parent.span_id)
        observations.append(mapper.observation(span, parent_id))
        own_id = _span_hex(span.context.span_id) if span.context else None
        for index, event in enumerate(span.events):
            observations.append(mapper.event(span, event, index, own_id, _is_ashr(span)))
    if ashr_root is not None:
        for index, event in enumerate(ashr_root.events):
            observations.append(mapper.event(ashr_root, event, index, None, True))
    observations.sort(key=lambda o: o.get("start_time") or "")
    if root is None and open_root is not None and _root_type(open_root) == "trace":
        payload = _trace_header(open_root, None, ordered, mapper)
        payload["start_time"] = format_time(open_root.start_time)
    else:
        payload = _trace_header(ashr_root, root, ordered, mapper)
        if ashr_root is None and sent is not None:
            _apply_sent(payload, sent)
    payload["id"] = format(trace_id, "032x")
    payload["observations"] = observations
    if incomplete or dropped_spans or root is None:
        payload["incomplete"] = True
    if dropped_spans:
        payload["dropped_spans"] = dropped_spans
    return payload


def _root_type(span: ReadableSpan) -> Any:
    return (span.attributes or {}).get(attrs.ASHR_OBSERVATION_TYPE)


def _text_attr(attributes: Mapping[str, Any], *keys: str) -> str | None:
    """The first of these attributes that is set, as text (foreign spans may put ints there)."""
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return None


def _header_fields(
    ashr_root: ReadableSpan | None,
    root: ReadableSpan | None,
    ordered: Sequence[ReadableSpan],
) -> dict[str, Any]:
    """``name``, ``user_id``, ``session_id`` and ``tags`` of the payload for these spans."""
    source = ashr_root or root or (ordered[0] if ordered else None)
    attributes: Mapping[str, Any] = (source.attributes or {}) if source is not None else {}
    user_id = attributes.get(attrs.ASHR_USER_ID)
    session_id = attributes.get(attrs.ASHR_SESSION_ID)
    if user_id is None or session_id is None:
        # Other tracers' spans carry the standard keys, on any span: read them as OTLP ingest does.
        for span in (source, *ordered) if source is not None else ordered:
            span_attrs = span.attributes or {}
            user_id = user_id or _text_attr(span_attrs, attrs.ASHR_USER_ID, attrs.ENDUSER_ID)
            session_id = session_id or _text_attr(
                span_attrs, attrs.ASHR_SESSION_ID, attrs.SESSION_ID
            )
    tags = attributes.get(attrs.ASHR_TAGS)
    return {
        "name": attributes.get(attrs.ASHR_TRACE_NAME) or (source.name if source else ""),
        "user_id": user_id,
        "session_id": session_id,
        "tags": [t for t in to_json_value(list(tags)) if isinstance(t, str)] if tags else [],
    }


def _apply_sent(header: dict[str, Any], sent: SentHeader) -> None:
    """A late partial's header: the fields its trace was sent with replace the guessed ones."""
    for key, value in (
        ("name", sent.name),
        ("user_id", sent.user_id),
        ("session_id", sent.session_id),
    ):
        if value is not None:
            header[key] = value
    if sent.tags:
        header["tags"] = list(sent.tags)


def _trace_header(
    ashr_root: ReadableSpan | None,
    root: ReadableSpan | None,
    ordered: Sequence[ReadableSpan],
    mapper: _Mapper,
) -> dict[str, Any]:
    source = ashr_root or root or (ordered[0] if ordered else None)
    attributes: Mapping[str, Any] = (source.attributes or {}) if source is not None else {}
    fields = _header_fields(ashr_root, root, ordered)
    header: dict[str, Any] = {
        "name": fields["name"],
        "user_id": fields["user_id"],
        "session_id": fields["session_id"],
        "metadata": mapper.own(attributes.get(attrs.ASHR_TRACE_METADATA)),
        "tags": fields["tags"],
    }
    if ashr_root is not None:
        header["input"] = mapper.own(attributes.get(attrs.ASHR_TRACE_INPUT))
        output = mapper.own(attributes.get(attrs.ASHR_TRACE_OUTPUT))
        if output is not None:
            header["output"] = output
    if root is not None:
        header["start_time"] = format_time(root.start_time)
        header["end_time"] = format_time(root.end_time)
    elif ordered:
        header["start_time"] = format_time(ordered[0].start_time)
    return header

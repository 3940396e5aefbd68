"""OTLP/HTTP trace data → the trace store's records (the same path as the ingest RPC).

Decoding: ``application/x-protobuf`` bodies are ``ExportTraceServiceRequest`` messages;
``application/json`` bodies are OTLP JSON, whose trace and span ids are hex strings (base64 is
accepted too). Mapping, per trace id:

- a span with ``ashr.observation.type = "trace"`` is the trace itself (name, user, session, tags,
  metadata, input, output from its ``ashr.trace.*``/``ashr.observation.*`` attributes); its
  children read as top-level observations;
- other spans with ``ashr.observation.type`` map field for field;
- spans with any ``gen_ai.*`` attribute become generations (model, usage, input and output
  messages in the GenAI, OpenLLMetry or span-event forms), except tool and agent spans and a
  span repeating a model call another generation records (``ashr_labs._genai``: the exporter
  uses the same rules), which stay spans;
- other spans become spans whose metadata holds their attributes;
- span events become ``event`` observations (ids derived from the span id and event index, so a
  re-sent batch upserts); status ERROR becomes level ERROR with the status message;
- a trace without an Ashr root takes its name from its root span.

Spans with malformed ids are rejected and counted; the rest of the batch is kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .. import _attributes as attrs
from .._genai import duplicate_generations, generation_candidate
from ._analytics import format_timestamp
from ._json import parse_json
from ._rpc import RpcError
from ._trace_store import ObservationRecord, TraceRecord

__all__ = [
    "JSON",
    "PROTOBUF",
    "MappedBatch",
    "OtlpDecodeError",
    "decode_request",
    "encode_response",
    "encode_status",
    "map_request",
    "media_type",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_ALIASES = frozenset({PROTOBUF, "application/protobuf"})

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HEX = re.compile(r"^[0-9a-fA-F]*$")
_BAD_ID = base64.b64encode(b"\0").decode("ascii")
_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_ASHR_PREFIX = "ashr."
_MESSAGE_EVENT = re.compile(r"^gen_ai\.(system|user|assistant|tool)\.message$")
_CHOICE_EVENT = "gen_ai.choice"
_INDEXED = re.compile(r"^(gen_ai\.(?:prompt|completion))\.(\d+)\.(.+)$")
_USAGE_KEYS = (
    (attrs.GEN_AI_USAGE_INPUT_TOKENS, "input_tokens"),
    (attrs.GEN_AI_USAGE_PROMPT_TOKENS, "input_tokens"),
    (attrs.GEN_AI_USAGE_OUTPUT_TOKENS, "output_tokens"),
    (attrs.GEN_AI_USAGE_COMPLETION_TOKENS, "output_tokens"),
    (attrs.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "cache_read_input_tokens"),
    (attrs.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, "cache_creation_input_tokens"),
    (attrs.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "reasoning_output_tokens"),
)
_CONTENT_KEYS = frozenset(
    {attrs.GEN_AI_INPUT_MESSAGES, attrs.GEN_AI_OUTPUT_MESSAGES, attrs.GEN_AI_SYSTEM_INSTRUCTIONS}
)
_EXCEPTION_EVENT = "exception"


class OtlpDecodeError(Exception):
    """The body is not a decodable ``ExportTraceServiceRequest``; the message says why."""


@dataclass
class MappedBatch:
    """Store records per trace, and the spans that were rejected (with the first reason)."""

    traces: list[tuple[TraceRecord, list[ObservationRecord]]] = field(default_factory=list)
    rejected_spans: int = 0
    reason: str | None = None


def media_type(content_type: str | None) -> str:
    """The lower-case media type of a ``Content-Type`` header ('' when absent)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return PROTOBUF if kind in _PROTOBUF_ALIASES else kind


# --- decoding ----------------------------------------------------------------------------------


def decode_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """Parse a body of media type ``kind`` (``PROTOBUF`` or ``JSON``)."""
    message = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise OtlpDecodeError(f"body is not a valid OTLP protobuf message: {exc}") from None
        return message
    try:
        document = parse_json(body)
    except RpcError as exc:
        raise OtlpDecodeError(exc.message) from None
    if not isinstance(document, dict):
        raise OtlpDecodeError("body is not a valid OTLP JSON message: expected a JSON object")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
        raise OtlpDecodeError(f"body is not a valid OTLP JSON message: {exc}") from None
    return message


def _convert_id(value: Any, size: int) -> Any:
    """OTLP JSON ids are hex; protobuf's JSON mapping wants base64. A bad id becomes a one-byte
    id, which decodes and is then rejected (and counted) by the mapper, parent ids included."""
    if not isinstance(value, str) or not value:
        return value
    if len(value) == size * 2 and _HEX.match(value):
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    try:
        if len(base64.b64decode(value, validate=True)) == size:
            return value
    except (binascii.Error, ValueError):
        pass
    return _BAD_ID


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _dicts(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _dicts(
            resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))
        ):
            for span in _dicts(scope_spans.get("spans")):
                _convert_ids_in(span)
                for link in _dicts(span.get("links")):
                    _convert_ids_in(link)


def _convert_ids_in(obj: dict[str, Any]) -> None:
    for camel, size in _ID_FIELDS.items():
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
        for key in (camel, snake):
            if key in obj:
                obj[key] = _convert_id(obj[key], size)


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# --- encoding ----------------------------------------------------------------------------------


def encode_response(kind: str, rejected_spans: int = 0, message: str | None = None) -> bytes:
    """An ``ExportTraceServiceResponse`` in the request's format (``partial_success`` if any)."""
    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = message or ""
    if kind == JSON:
        return str(json_format.MessageToJson(response, indent=None)).encode("utf-8")
    return bytes(response.SerializeToString())


_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


def encode_status(kind: str, http_status: int, message: str) -> bytes:
    """A ``google.rpc.Status`` error body (JSON unless the request was protobuf)."""
    status = status_pb2.Status(code=_GRPC_CODES.get(http_status, 2), message=message)
    if kind == PROTOBUF:
        return bytes(status.SerializeToString())
    return str(json_format.MessageToJson(status, indent=None)).encode("utf-8")


# --- mapping -----------------------------------------------------------------------------------


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _key_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "double_value":
        number = value.double_value
        return number if number == number and abs(number) != float("inf") else None
    return None if kind is None else getattr(value, kind)


def _key_values(items: Iterable[KeyValue]) -> dict[str, Any]:
    return {item.key: _any_value(item.value) for item in items}


def _timestamp(nanos: int) -> str | None:
    if nanos <= 0:
        return None
    return format_timestamp(_EPOCH + timedelta(microseconds=nanos // 1000))


def _json_attr(value: Any) -> Any:
    """Structured Ashr values travel as JSON strings; anything unparseable stays a string."""
    if not isinstance(value, str):
        return value
    try:
        return parse_json(value)
    except RpcError:
        return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _tags(value: Any) -> list[str] | None:
    value = _json_attr(value)
    if isinstance(value, list):
        return [str(tag) for tag in value] or None
    return None


def _valid_ids(span: Span) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "invalid trace_id (expected 16 bytes, not all zero)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "invalid span_id (expected 8 bytes, not all zero)"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "invalid parent_span_id (expected 8 bytes or empty)"
    return None


def map_request(request: ExportTraceServiceRequest) -> MappedBatch:
    """Group the request's spans by trace and map them to store records."""
    batch = MappedBatch()
    grouped: dict[str, list[Span]] = {}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _valid_ids(span)
                if problem is not None:
                    batch.rejected_spans += 1
                    batch.reason = batch.reason or problem
                    continue
                grouped.setdefault(span.trace_id.hex(), []).append(span)
    for trace_id, spans in grouped.items():
        batch.traces.append(_map_trace(trace_id, spans))
    if batch.rejected_spans:
        batch.reason = f"{batch.rejected_spans} span(s) rejected: {batch.reason}"
    return batch


def _map_trace(trace_id: str, spans: list[Span]) -> tuple[TraceRecord, list[ObservationRecord]]:
    span_attrs = [_key_values(span.attributes) for span in spans]
    root_index = next(
        (i for i, a in enumerate(span_attrs) if a.get(attrs.ASHR_OBSERVATION_TYPE) == "trace"), None
    )
    duplicates = duplicate_generations(
        (span.span_id, span.parent_span_id or None, values)
        for span, values in zip(spans, span_attrs, strict=True)
    )
    observations: list[ObservationRecord] = []
    for index, (span, values) in enumerate(zip(spans, span_attrs, strict=True)):
        events = [_key_values(event.attributes) for event in span.events]
        folded = False
        if index != root_index:
            observation = _map_span(span, values, events, span.span_id in duplicates)
            observations.append(observation)
            folded = observation.type == "generation" and attrs.ASHR_OBSERVATION_TYPE not in values
        observations.extend(_map_events(span, values, events, folded))
    if root_index is not None:
        trace = _ashr_root(trace_id, spans[root_index], span_attrs[root_index])
    else:
        plain_root = next((s for s in spans if not s.parent_span_id), None)
        trace = TraceRecord(
            trace_id=trace_id,
            name=None if plain_root is None else plain_root.name,
            start_time=None if plain_root is None else _timestamp(plain_root.start_time_unix_nano),
            end_time=None if plain_root is None else _timestamp(plain_root.end_time_unix_nano),
        )
    return _with_trace_wide(trace, span_attrs), observations


def _ashr_root(trace_id: str, span: Span, values: Mapping[str, Any]) -> TraceRecord:
    level, message = _level(span, values)
    return TraceRecord(
        trace_id=trace_id,
        name=_text(values.get(attrs.ASHR_TRACE_NAME)) or span.name,
        metadata=_json_attr(values.get(attrs.ASHR_TRACE_METADATA)),
        input=_json_attr(values.get(attrs.ASHR_TRACE_INPUT, values.get(attrs.ASHR_INPUT))),
        output=_json_attr(values.get(attrs.ASHR_TRACE_OUTPUT, values.get(attrs.ASHR_OUTPUT))),
        start_time=_timestamp(span.start_time_unix_nano),
        end_time=_timestamp(span.end_time_unix_nano),
        level=level,
        status_message=message,
        root_observation_id=span.span_id.hex(),
    )


def _with_trace_wide(trace: TraceRecord, span_attrs: list[dict[str, Any]]) -> TraceRecord:
    """User, session and tags: the first span that carries them (ours: the root; others may
    put them on any span)."""
    found: dict[str, Any] = {}
    for values in span_attrs:
        for field_name, keys in (
            ("user_id", (attrs.ASHR_USER_ID, attrs.ENDUSER_ID)),
            ("session_id", (attrs.ASHR_SESSION_ID, attrs.SESSION_ID)),
            ("tags", (attrs.ASHR_TAGS,)),
        ):
            if field_name in found:
                continue
            for key in keys:
                if values.get(key) is not None:
                    raw = values[key]
                    found[field_name] = _tags(raw) if field_name == "tags" else _text(raw)
                    break
    return replace(trace, **{k: v for k, v in found.items() if v is not None})


def _level(span: Span, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    level = _text(values.get(attrs.ASHR_LEVEL))
    message = _text(values.get(attrs.ASHR_STATUS_MESSAGE))
    if span.status.code == Status.STATUS_CODE_ERROR:
        level = level or "ERROR"
        message = message or (span.status.message or None)
    return level, message


def _map_span(
    span: Span, values: dict[str, Any], events: list[dict[str, Any]], duplicate: bool
) -> ObservationRecord:
    """One span as an observation; ``events`` are its events' decoded attributes.

    ``duplicate``: a GenAI span repeating a model call another generation records (see
    ``ashr_labs._genai``), mapped as a plain span."""
    kind = values.get(attrs.ASHR_OBSERVATION_TYPE)
    level, message = _level(span, values)
    base: dict[str, Any] = {
        "id": span.span_id.hex(),
        "name": span.name,
        "parent_observation_id": span.parent_span_id.hex() or None,
        "level": level,
        "status_message": message,
        "start_time": _timestamp(span.start_time_unix_nano),
        "end_time": _timestamp(span.end_time_unix_nano),
    }
    if isinstance(kind, str):
        generation = kind == "generation"
        return ObservationRecord(
            type=kind if kind in ("span", "generation", "event") else "span",
            input=_json_attr(values.get(attrs.ASHR_INPUT)),
            output=_json_attr(values.get(attrs.ASHR_OUTPUT)),
            metadata=_json_attr(values.get(attrs.ASHR_METADATA)),
            model=_text(values.get(attrs.ASHR_MODEL)) or (_model(values) if generation else None),
            usage=_json_attr(values.get(attrs.ASHR_USAGE))
            or (_usage(values) if generation else None),
            **base,
        )
    if generation_candidate(values) and not duplicate:
        return _generation(span, values, events, base)
    return ObservationRecord(type="span", metadata=_foreign_metadata(values), **base)


def _foreign_metadata(values: Mapping[str, Any], *, content: bool = False) -> Any:
    """A foreign span's or event's attributes as metadata: Ashr keys dropped, and message
    content too unless ``content`` (it is the generation's input/output instead)."""
    kept = {
        key: value
        for key, value in values.items()
        if not key.startswith(_ASHR_PREFIX)
        and (content or (key not in _CONTENT_KEYS and not _INDEXED.match(key)))
    }
    return kept or None


def _generation(
    span: Span, values: dict[str, Any], events: list[dict[str, Any]], base: dict[str, Any]
) -> ObservationRecord:
    event_values = [
        (event.name, attributes) for event, attributes in zip(span.events, events, strict=True)
    ]
    for _name, attributes in event_values:
        for key in (attrs.GEN_AI_INPUT_MESSAGES, attrs.GEN_AI_OUTPUT_MESSAGES):
            if key in attributes and key not in values:
                values = {**values, key: attributes[key]}
    indexed: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in values.items():
        match = _INDEXED.match(key)
        if match is not None:
            indexed.setdefault(match.group(1), {}).setdefault(int(match.group(2)), {})[
                match.group(3)
            ] = value
    inputs = _json_attr(values.get(attrs.GEN_AI_INPUT_MESSAGES))
    if inputs is None and attrs.GEN_AI_PROMPT_PREFIX in indexed:
        inputs = [m for _, m in sorted(indexed[attrs.GEN_AI_PROMPT_PREFIX].items())]
    if inputs is None:
        inputs = [
            {"role": m.group(1), **a} for n, a in event_values if (m := _MESSAGE_EVENT.match(n))
        ] or None
    outputs = _json_attr(values.get(attrs.GEN_AI_OUTPUT_MESSAGES))
    if outputs is None and attrs.GEN_AI_COMPLETION_PREFIX in indexed:
        outputs = [m for _, m in sorted(indexed[attrs.GEN_AI_COMPLETION_PREFIX].items())]
    if outputs is None:
        outputs = [a for n, a in event_values if n == _CHOICE_EVENT] or None
    return ObservationRecord(
        type="generation",
        input=inputs,
        output=outputs,
        metadata=_foreign_metadata(values),
        model=_model(values),
        usage=_usage(values),
        **base,
    )


def _model(values: Mapping[str, Any]) -> str | None:
    return _text(values.get(attrs.GEN_AI_RESPONSE_MODEL) or values.get(attrs.GEN_AI_REQUEST_MODEL))


def _usage(values: Mapping[str, Any]) -> dict[str, int] | None:
    usage: dict[str, int] = {}
    for key, name in _USAGE_KEYS:
        value = values.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and name not in usage:
            usage[name] = value
    return usage or None


def _consumed_event(name: str) -> bool:
    return bool(_MESSAGE_EVENT.match(name)) or name == _CHOICE_EVENT


def _event_id(span: Span, index: int) -> str:
    """The id our exporter gives the same event (``sha256("<span id int>:<index>")[:16]``), so a
    trace sent by both paths, or twice, keeps one copy of each event."""
    seed = f"{int.from_bytes(span.span_id, 'big')}:{index}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


def _map_events(
    span: Span, values: Mapping[str, Any], events: list[dict[str, Any]], folded: bool
) -> list[ObservationRecord]:
    """Span events as ``event`` observations (``events`` holds their decoded attributes); GenAI
    message events of a generation are skipped when ``folded`` (they became its input/output)."""
    span_id = span.span_id.hex()
    ashr_span = attrs.ASHR_OBSERVATION_TYPE in values
    result = []
    for index, (event, event_values) in enumerate(zip(span.events, events, strict=True)):
        if folded and (
            _consumed_event(event.name)
            or attrs.GEN_AI_INPUT_MESSAGES in event_values
            or attrs.GEN_AI_OUTPUT_MESSAGES in event_values
        ):
            continue
        ashr = ashr_span or attrs.ASHR_INPUT in event_values or attrs.ASHR_LEVEL in event_values
        if ashr:
            event_input = _json_attr(event_values.get(attrs.ASHR_INPUT))
            metadata = _json_attr(event_values.get(attrs.ASHR_METADATA))
            level = _text(event_values.get(attrs.ASHR_LEVEL))
        else:
            event_input, metadata = None, _foreign_metadata(event_values, content=True)
            level = "ERROR" if event.name == _EXCEPTION_EVENT else None
        result.append(
            ObservationRecord(
                id=_event_id(span, index),
                type="event",
                name=event.name,
                parent_observation_id=span_id,
                input=event_input,
                metadata=metadata,
                level=level,
                start_time=_timestamp(event.time_unix_nano),
            )
        )
    return result

"""Validate an ``ingest_observability_trace`` body and turn it into store records.

Two client shapes are accepted (protocol.md §2.2): the published client's (no trace id; the
server assigns one) and ours (an OTel trace id plus optional ``start_time``, ``end_time``,
``input``, ``incomplete``, ``dropped_spans``). Every failure is a 422 naming the full field path,
for example ``trace.observations[3].type: expected one of event, generation, span, got "x"``.
Levels are not validated (the protocol says so); unknown keys are ignored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from ._analytics import json_safe
from ._rpc import RpcError
from ._trace_store import ObservationRecord, TraceRecord
from ._validate import INT64_MAX, MISSING, fail

__all__ = ["OBSERVATION_KINDS", "parse_ingest_body"]

OBSERVATION_KINDS = ("span", "generation", "event")
MAX_OBSERVATIONS = 10_000
MAX_TAGS = 100
MAX_TEXT = 1000
MAX_ID = 128
MAX_STATUS_MESSAGE = 10_000

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


def new_trace_id() -> str:
    """A server-assigned trace id: 32 lower-case hex characters, like an OTel trace id."""
    return secrets.token_hex(16)


def _optional(
    obj: dict[str, Any], key: str, path: str, accepts: Callable[[Any], bool], expected: str
) -> Any:
    """``obj[key]`` when ``accepts`` it, None when absent or null, else the 422 naming it."""
    value = obj.get(key)
    if value is None:
        return None
    if not accepts(value):
        raise fail(f"{path}.{key}", expected, value)
    return value


def _opt_text(obj: dict[str, Any], key: str, path: str, max_len: int = MAX_TEXT) -> str | None:
    value: str | None = _optional(obj, key, path, lambda v: isinstance(v, str), "a string")
    if value is not None and len(value) > max_len:
        raise RpcError(
            422, f"{path}.{key}: expected at most {max_len} characters, got {len(value)}"
        )
    return value


def _opt_object(obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = _optional(
        obj, key, path, lambda v: isinstance(v, dict), "an object or null"
    )
    return value


def _trace_id(trace: dict[str, Any]) -> str:
    value = trace.get("id")
    if value is None:
        return new_trace_id()
    if not isinstance(value, str) or not _TRACE_ID.match(value) or not value.strip("0"):
        raise fail("trace.id", "32 hexadecimal characters, not all zero", value)
    return value.lower()


def _tags(trace: dict[str, Any]) -> list[str] | None:
    value = trace.get("tags")
    if value is None:
        return None
    if not isinstance(value, list):
        raise fail("trace.tags", "an array of strings", value)
    if len(value) > MAX_TAGS:
        raise RpcError(422, f"trace.tags: expected at most {MAX_TAGS} items, got {len(value)}")
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or len(tag) > MAX_TEXT:
            raise fail(f"trace.tags[{index}]", f"a string of at most {MAX_TEXT} characters", tag)
    return value or None


def _opt_bool(trace: dict[str, Any], key: str) -> bool | None:
    value: bool | None = _optional(trace, key, "trace", lambda v: isinstance(v, bool), "a boolean")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


def _opt_count(trace: dict[str, Any], key: str) -> int | None:
    value: int | None = _optional(trace, key, "trace", _is_count, f"an integer 0–{INT64_MAX}")
    return value


def _observation(item: Any, path: str) -> ObservationRecord:
    if not isinstance(item, dict):
        raise fail(path, "an object", item)
    obs_id = item.get("id", MISSING)
    if not isinstance(obs_id, str) or not 1 <= len(obs_id) <= MAX_ID:
        raise fail(f"{path}.id", f"a non-empty string of at most {MAX_ID} characters", obs_id)
    kind = item.get("type", MISSING)
    if kind not in OBSERVATION_KINDS:
        raise fail(f"{path}.type", "one of " + ", ".join(sorted(OBSERVATION_KINDS)), kind)
    return ObservationRecord(
        id=obs_id,
        type=kind,
        name=_opt_text(item, "name", path),
        parent_observation_id=_opt_text(item, "parent_observation_id", path, MAX_ID),
        input=json_safe(item.get("input")),
        output=json_safe(item.get("output")),
        metadata=json_safe(_opt_object(item, "metadata", path)),
        model=_opt_text(item, "model", path),
        usage=json_safe(_opt_object(item, "usage", path)),
        level=_opt_text(item, "level", path, 32),
        status_message=_opt_text(item, "status_message", path, MAX_STATUS_MESSAGE),
        start_time=_opt_text(item, "start_time", path, 64),
        end_time=_opt_text(item, "end_time", path, 64),
    )


def parse_ingest_body(body: dict[str, Any]) -> tuple[TraceRecord, list[ObservationRecord]]:
    """The trace and observation records of a request body, or ``RpcError(422)``."""
    trace = body.get("trace", MISSING)
    if not isinstance(trace, dict):
        raise fail("trace", "an object", trace)
    raw_observations = trace.get("observations")
    if raw_observations is None:
        raw_observations = []
    if not isinstance(raw_observations, list):
        raise fail("trace.observations", "an array of observation objects", raw_observations)
    if len(raw_observations) > MAX_OBSERVATIONS:
        raise RpcError(
            422,
            f"trace.observations: expected at most {MAX_OBSERVATIONS} items, "
            f"got {len(raw_observations)}",
        )
    observations = [
        _observation(item, f"trace.observations[{index}]")
        for index, item in enumerate(raw_observations)
    ]
    record = TraceRecord(
        trace_id=_trace_id(trace),
        name=_opt_text(trace, "name", "trace"),
        user_id=_opt_text(trace, "user_id", "trace"),
        session_id=_opt_text(trace, "session_id", "trace"),
        metadata=json_safe(_opt_object(trace, "metadata", "trace")),
        tags=_tags(trace),
        input=json_safe(trace.get("input")),
        output=json_safe(trace.get("output")),
        start_time=_opt_text(trace, "start_time", "trace", 64),
        end_time=_opt_text(trace, "end_time", "trace", 64),
        level=_opt_text(trace, "level", "trace", 32),
        status_message=_opt_text(trace, "status_message", "trace", MAX_STATUS_MESSAGE),
        incomplete=_opt_bool(trace, "incomplete"),
        dropped_spans=_opt_count(trace, "dropped_spans"),
    )
    return record, observations

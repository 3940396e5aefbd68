"""Trace builders for the observability server tests: observations and trace bodies in the
published client's shapes. Tests send them with ``tests.support.server_rpc.Tenant`` (raw RPC over
loopback, so the server is tested on the wire exactly as the protocol describes it).
"""

from __future__ import annotations

import uuid
from typing import Any


def obs_id() -> str:
    return uuid.uuid4().hex[:16]


def trace_id() -> str:
    return uuid.uuid4().hex


def span(
    name: str,
    *,
    kind: str = "span",
    start: str = "2026-01-01T00:00:00.000000Z",
    end: str | None = "2026-01-01T00:00:01.000000Z",
    parent: str | None = None,
    id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An observation in the published client's shape (end keys only when ended)."""
    item: dict[str, Any] = {
        "id": id or obs_id(),
        "type": kind,
        "name": name,
        "parent_observation_id": parent,
        "start_time": start,
        "input": extra.pop("input", None),
        "metadata": extra.pop("metadata", None),
        "level": extra.pop("level", None),
    }
    if end is not None and kind != "event":
        item["end_time"] = end
    item.update(extra)
    return item


def published_trace(name: str, observations: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A trace body exactly as the published client's ``Trace.end()`` builds it."""
    trace = {
        "name": name,
        "user_id": fields.pop("user_id", None),
        "session_id": fields.pop("session_id", None),
        "metadata": fields.pop("metadata", None),
        "tags": fields.pop("tags", []),
        "observations": observations,
    }
    trace.update(fields)
    return trace

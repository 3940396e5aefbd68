"""Helpers for the observability server tests: a raw RPC caller per tenant and trace builders.

The calls go over loopback with ``requests`` (not our client), so the server is tested on the
wire exactly as the protocol describes it.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import requests

_names = itertools.count()


@dataclass
class Rpc:
    """One tenant's view of a local server: ``call`` returns (status, body)."""

    url: str
    api_key: str
    tenant_id: int | None = None

    def call(self, function: str, **params: Any) -> tuple[int, Any]:
        body = json.dumps({"function": function, **params})
        response = requests.post(
            self.url,
            data=body,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            timeout=10,
        )
        return response.status_code, response.json()

    def ok(self, function: str, **params: Any) -> dict[str, Any]:
        status, body = self.call(function, **params)
        assert status == 200, (status, body)
        assert body["status"] == "ok", body
        return body  # type: ignore[no-any-return]

    def error(self, function: str, expected_status: int, **params: Any) -> str:
        status, body = self.call(function, **params)
        assert status == expected_status, (status, body)
        assert body["status"] == "error", body
        return body["message"]  # type: ignore[no-any-return]


def new_tenant(server: Any, *, features: dict[str, bool] | None = None) -> Rpc:
    """A fresh tenant on ``server`` (so counts start at zero) and an RPC caller with its key."""
    tenant_id, key = server.create_tenant(
        f"obs-{next(_names)}-{uuid.uuid4().hex[:6]}", features=features
    )
    return Rpc(server.url, key, tenant_id)


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

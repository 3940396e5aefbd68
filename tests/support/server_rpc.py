"""Raw wire helpers for the server tests: RPC calls over loopback with ``http.client``.

Not our ``AshrLabsClient``: the server is tested on the wire exactly as protocol.md describes.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ashr_labs.server._store import dump_doc, now_iso

_names = itertools.count()


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-cased names), raw body and parsed JSON."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def message(self) -> str:
        return str(self.json["message"])


def post(
    url: str,
    body: bytes | str | dict[str, Any],
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request and read the whole answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    data = data.encode() if isinstance(data, str) else data
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    try:
        conn.request(method, path or parts.path or "/", body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    finally:
        conn.close()


@dataclass
class Tenant:
    """One tenant of a running server and its key."""

    url: str
    key: str
    tenant_id: int
    server: Any

    def call(self, function: str, /, **params: Any) -> Reply:
        return post(self.url, {"function": function, **params}, key=self.key)

    def ok(self, function: str, /, **params: Any) -> dict[str, Any]:
        reply = self.call(function, **params)
        assert reply.status == 200, (reply.status, reply.raw[:500])
        body: dict[str, Any] = reply.json
        assert body["status"] == "ok"
        return body

    def error(self, status: int, function: str, /, **params: Any) -> str:
        reply = self.call(function, **params)
        assert reply.status == status, (reply.status, reply.raw[:500])
        assert reply.json["status"] == "error"
        return reply.message

    @property
    def user_id(self) -> int:
        row = self.server.db.query_one(
            "SELECT id FROM users WHERE tenant_id = ? ORDER BY id LIMIT 1", (self.tenant_id,)
        )
        return int(row["id"])

    def add_dataset(
        self,
        name: str = "ds",
        *,
        source: dict[str, Any] | None = None,
        request_id: int | None = None,
        agent_id: int | None = None,
    ) -> int:
        """A dataset row as a finished generation job would write it."""
        src = source if source is not None else {"runs": {"s1": {"title": "t", "actions": []}}}
        with self.server.db.transaction():
            return int(
                self.server.db.insert(
                    "INSERT INTO datasets (created_at, tenant_id, creator_id, name, description,"
                    " agent_id, dataset_source, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now_iso(),
                        self.tenant_id,
                        self.user_id,
                        name,
                        None,
                        agent_id,
                        dump_doc(src),
                        request_id,
                    ),
                )
            )


def new_tenant(server: Any, **features: bool) -> Tenant:
    """A fresh tenant (with its own key) on ``server``."""
    tenant_id, key = server.create_tenant(f"t{next(_names)}", features=features or None)
    return Tenant(server.url, key, tenant_id, server)


def table_counts(server: Any) -> dict[str, int]:
    """Row counts of the core tables (to prove a failed call stored nothing).

    Waits for queued jobs first: a generation job finishing mid-test would add a dataset.
    """
    server.wait_idle(20)
    tables = [
        "tenants",
        "users",
        "api_keys",
        "agents",
        "requests",
        "datasets",
        "runs",
        "sdk_notes",
        "idempotency",
    ]
    return {t: int(server.db.query_one(f"SELECT COUNT(*) AS n FROM {t}")["n"]) for t in tables}


def raw_socket(url: str, timeout: float = 5.0) -> socket.socket:
    """A plain TCP connection to the server, for hand-written requests."""
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)

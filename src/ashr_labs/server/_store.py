"""The core tables (tenants, users, keys, agents, datasets, runs, requests, notes) and row shapes.

Entity dicts follow protocol.md §4.2 exactly, including its inconsistent names (a Run has
``dataset``/``tenant``/``runner``, an Agent has ``tenant_id``/``creator_id``). JSON documents are
stored as text and decoded on the way out. Every query filters by tenant (F44); ``owned_row``
is the one place that turns "exists, but for another tenant" into the fixed 403.
"""

from __future__ import annotations

import json
from typing import Any

from ._analytics import format_timestamp, utc_now
from ._db import Database, register_schema
from ._rpc import FORBIDDEN_MESSAGE, RpcError

__all__ = [
    "DEFAULT_FEATURES",
    "OBSERVABILITY",
    "agent_entity",
    "api_key_entity",
    "dataset_entity",
    "dump_doc",
    "feature_enabled",
    "load_doc",
    "note_entity",
    "now_iso",
    "owned_row",
    "request_entity",
    "run_entity",
    "tenant_entity",
    "user_entity",
]

register_schema(
    """
CREATE TABLE IF NOT EXISTS tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_name TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS tenant_features (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL,
    name TEXT,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT '[]',
    last_used_at TEXT,
    expires_at TEXT,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys(key_prefix);
CREATE TABLE IF NOT EXISTS agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    creator_id INTEGER REFERENCES users(id),
    name TEXT NOT NULL,
    description TEXT,
    config TEXT,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX IF NOT EXISTS agents_active_name ON agents(tenant_id, name) WHERE is_active = 1;
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    requestor_id INTEGER REFERENCES users(id),
    request_name TEXT NOT NULL,
    request_status TEXT NOT NULL,
    request_input_schema TEXT,
    request TEXT NOT NULL,
    agent_id INTEGER REFERENCES agents(id),
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_tenant ON requests(tenant_id, id);
CREATE INDEX IF NOT EXISTS requests_status ON requests(request_status);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    creator_id INTEGER REFERENCES users(id),
    name TEXT NOT NULL,
    description TEXT,
    agent_id INTEGER REFERENCES agents(id),
    dataset_source TEXT NOT NULL,
    request_id INTEGER REFERENCES requests(id)
);
CREATE INDEX IF NOT EXISTS datasets_tenant ON datasets(tenant_id, id);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    dataset_id INTEGER REFERENCES datasets(id),
    runner_id INTEGER REFERENCES users(id),
    result TEXT NOT NULL,
    grading_status TEXT NOT NULL,
    grading_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_tenant ON runs(tenant_id, id);
CREATE INDEX IF NOT EXISTS runs_grading ON runs(grading_status);
CREATE TABLE IF NOT EXISTS sdk_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    tenant_id INTEGER REFERENCES tenants(id),
    agent_id INTEGER REFERENCES agents(id),
    active_from TEXT,
    expires_at TEXT,
    is_archived INTEGER NOT NULL DEFAULT 0,
    note_metadata TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id INTEGER NOT NULL,
    function TEXT NOT NULL,
    key TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, function, key)
);
"""
)

OBSERVABILITY = "observability"
"""The tenant feature the tracing RPCs and OTLP ingest need (403 while off)."""
DEFAULT_FEATURES: dict[str, bool] = {OBSERVABILITY: True}
"""Tenant feature flags and their value when a tenant has no explicit setting."""

# Tables reachable through owned_row, with the noun used in 404 messages. Never from input.
_OWNED_TABLES: dict[str, tuple[str, str]] = {
    "datasets": ("dataset", "SELECT * FROM datasets WHERE id = ?"),
    "runs": ("run", "SELECT * FROM runs WHERE id = ?"),
    "requests": ("request", "SELECT * FROM requests WHERE id = ?"),
    "agents": ("agent", "SELECT * FROM agents WHERE id = ?"),
    "api_keys": ("API key", "SELECT * FROM api_keys WHERE id = ?"),
    "users": ("user", "SELECT * FROM users WHERE id = ?"),
}


def now_iso() -> str:
    """Entity timestamps: UTC, microseconds, ``Z`` suffix (the tracing format)."""
    return format_timestamp(utc_now())


def dump_doc(value: Any) -> str | None:
    """A JSON document as stored (None stays SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def load_doc(text: Any) -> Any:
    """A stored JSON document decoded (NULL gives None)."""
    if text is None:
        return None
    return json.loads(str(text))


def owned_row(
    db: Database, table: str, row_id: int, tenant_id: int, *, active_only: bool = False
) -> Any:
    """The row ``row_id`` of ``table`` if it belongs to ``tenant_id``.

    Unknown id → 404 naming the kind; another tenant's → the fixed 403 (F44). With
    ``active_only`` a soft-deleted row counts as unknown.
    """
    noun, sql = _OWNED_TABLES[table]
    row = db.query_one(sql, (row_id,))
    if row is None or (active_only and not row["is_active"]):
        raise RpcError(404, f"{noun} {row_id} not found")
    if int(row["tenant_id"]) != tenant_id:
        raise RpcError(403, FORBIDDEN_MESSAGE)
    return row


def feature_enabled(db: Database, tenant_id: int, name: str) -> bool:
    """Whether tenant ``tenant_id`` has feature ``name`` on (explicit row, else the default)."""
    row = db.query_one(
        "SELECT enabled FROM tenant_features WHERE tenant_id = ? AND name = ?", (tenant_id, name)
    )
    if row is None:
        return DEFAULT_FEATURES.get(name, False)
    return bool(row["enabled"])


def _columns(row: Any, *names: str) -> dict[str, Any]:
    """The named columns of ``row`` under their own names (entities list renames separately)."""
    return {name: row[name] for name in names}


def tenant_entity(row: Any) -> dict[str, Any]:
    """Tenant: id, created_at, tenant_name, is_active."""
    return {**_columns(row, "id", "created_at", "tenant_name"), "is_active": bool(row["is_active"])}


def user_entity(row: Any) -> dict[str, Any]:
    """User: id, created_at, email, name, tenant (int), is_active."""
    return {
        **_columns(row, "id", "created_at", "email", "name"),
        "tenant": row["tenant_id"],
        "is_active": bool(row["is_active"]),
    }


def api_key_entity(row: Any, *, key: str | None = None) -> dict[str, Any]:
    """APIKey (never the secret, except ``key`` right after creation)."""
    entity: dict[str, Any] = {
        **_columns(row, "id", "key_prefix", "name"),
        "scopes": load_doc(row["scopes"]) or [],
        **_columns(row, "user_id", "tenant_id", "created_at", "last_used_at", "expires_at"),
        "is_active": bool(row["is_active"]),
    }
    if key is not None:
        entity["key"] = key
    return entity


def agent_entity(row: Any, *, dataset_count: int | None = None) -> dict[str, Any]:
    """Agent, with ``dataset_count`` when given."""
    entity: dict[str, Any] = {
        **_columns(row, "id", "created_at", "tenant_id", "creator_id", "name", "description"),
        "config": load_doc(row["config"]),
        "is_active": bool(row["is_active"]),
    }
    if dataset_count is not None:
        entity["dataset_count"] = dataset_count
    return entity


def dataset_entity(row: Any, agent_name: str | None = None) -> dict[str, Any]:
    """Dataset, with ``agent_details`` when linked and ``request_id`` always present."""
    agent_id = row["agent_id"]
    return {
        **_columns(row, "id", "created_at"),
        "tenant": row["tenant_id"],
        "creator": row["creator_id"],
        **_columns(row, "name", "description", "agent_id"),
        "agent_details": None if agent_id is None else {"id": agent_id, "name": agent_name},
        "dataset_source": load_doc(row["dataset_source"]),
        "request_id": row["request_id"],
    }


def run_entity(row: Any) -> dict[str, Any]:
    """Run: ``dataset``/``tenant``/``runner`` ints, the result document, grading state."""
    return {
        **_columns(row, "id", "created_at"),
        "dataset": row["dataset_id"],
        "tenant": row["tenant_id"],
        "runner": row["runner_id"],
        "result": load_doc(row["result"]),
        **_columns(row, "grading_status", "grading_error"),
    }


def request_entity(row: Any) -> dict[str, Any]:
    """Request; ``error`` is a readable message when ``request_status`` is ``failed``."""
    return {
        **_columns(row, "id", "created_at", "updated_at", "requestor_id"),
        "requestor_tenant": row["tenant_id"],
        **_columns(row, "request_name", "request_status"),
        "request_input_schema": load_doc(row["request_input_schema"]),
        "request": load_doc(row["request"]),
        **_columns(row, "agent_id", "error"),
    }


def note_entity(row: Any) -> dict[str, Any]:
    """SdkNote."""
    return {
        **_columns(
            row,
            "id",
            "created_at",
            "updated_at",
            "title",
            "content",
            "category",
            "severity",
            "tenant_id",
            "agent_id",
            "active_from",
            "expires_at",
        ),
        "is_archived": bool(row["is_archived"]),
        "note_metadata": load_doc(row["note_metadata"]),
    }

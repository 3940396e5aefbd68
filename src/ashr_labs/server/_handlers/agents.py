"""Agent RPCs (protocol.md §2.2 "Agents"): names unique per tenant among active agents (409),
soft delete that unlinks datasets, ``dataset_count`` in lists, dataset linking."""

from __future__ import annotations

import sqlite3
from typing import Any

from .._db import Database
from .._params import URL_OPTIONS, Param, req_id
from .._rpc import CallContext, RpcError, rpc
from .._store import agent_entity, dataset_entity, dump_doc, now_iso, owned_row
from .datasets import dataset_with_agent

__all__: list[str] = []

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
_DESCRIPTION = Param("description", "str", max_len=DESCRIPTION_MAX)
_CONFIG = Param("config", "object")


_SELECT = "SELECT a.*, (SELECT COUNT(*) FROM datasets d WHERE d.agent_id = a.id) AS n FROM agents a"
"""Agents with their dataset count (``n``), in one query."""


def _entity(db: Database, agent_id: int) -> dict[str, Any]:
    row = db.query_one(_SELECT + " WHERE a.id = ?", (agent_id,))
    assert row is not None  # callers checked it exists
    return agent_entity(row, dataset_count=int(row["n"]))


def _name_taken(db: Database, tenant_id: int, name: str, except_id: int | None = None) -> bool:
    row = db.query_one(
        "SELECT id FROM agents WHERE tenant_id = ? AND name = ? AND is_active = 1 AND id != ?",
        (tenant_id, name, except_id or 0),
    )
    return row is not None


def _conflict(name: str) -> RpcError:
    return RpcError(409, f"name: an agent named {name!r} already exists in this tenant")


@rpc("list_agents", readonly=True)
def list_agents(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's active agents, oldest first, each with ``dataset_count``."""
    rows = ctx.db.query(
        _SELECT + " WHERE a.tenant_id = ? AND a.is_active = 1 ORDER BY a.id", (ctx.tenant_id,)
    )
    return {"status": "ok", "agents": [agent_entity(r, dataset_count=int(r["n"])) for r in rows]}


@rpc(
    "create_agent",
    params=(
        Param("name", "str", required=True, min_len=1, max_len=NAME_MAX),
        _DESCRIPTION,
        _CONFIG,
    ),
)
def create_agent(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """A new agent; 409 when the tenant already has an active agent of that name."""
    name, description, config = (ctx.params[k] for k in ("name", "description", "config"))
    if _name_taken(ctx.db, ctx.tenant_id, name):
        raise _conflict(name)
    try:
        agent_id = ctx.db.insert(
            "INSERT INTO agents (created_at, tenant_id, creator_id, name, description, config,"
            " is_active) VALUES (?, ?, ?, ?, ?, ?, 1)",
            (now_iso(), ctx.tenant_id, ctx.user_id, name, description, dump_doc(config)),
        )
    except sqlite3.IntegrityError:
        raise _conflict(name) from None
    return {"status": "ok", "agent": _entity(ctx.db, agent_id)}


@rpc(
    "update_agent",
    params=(
        req_id("agent_id"),
        Param("name", "str", min_len=1, max_len=NAME_MAX),
        _DESCRIPTION,
        _CONFIG,
    ),
)
def update_agent(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Change name, description or config (each only when given; config replaces the whole)."""
    agent_id, name = ctx.params["agent_id"], ctx.params["name"]
    description, config = ctx.params["description"], ctx.params["config"]
    owned_row(ctx.db, "agents", agent_id, ctx.tenant_id, active_only=True)
    if name is not None:
        if _name_taken(ctx.db, ctx.tenant_id, name, except_id=agent_id):
            raise _conflict(name)
        ctx.db.execute("UPDATE agents SET name = ? WHERE id = ?", (name, agent_id))
    if description is not None:
        ctx.db.execute("UPDATE agents SET description = ? WHERE id = ?", (description, agent_id))
    if config is not None:
        ctx.db.execute("UPDATE agents SET config = ? WHERE id = ?", (dump_doc(config), agent_id))
    return {"status": "ok", "agent": _entity(ctx.db, agent_id)}


@rpc("delete_agent", params=(req_id("agent_id"),))
def delete_agent(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Soft-delete an agent and unlink its datasets (they are kept)."""
    agent_id = ctx.params["agent_id"]
    owned_row(ctx.db, "agents", agent_id, ctx.tenant_id, active_only=True)
    cur = ctx.db.execute(
        "UPDATE datasets SET agent_id = NULL WHERE agent_id = ? AND tenant_id = ?",
        (agent_id, ctx.tenant_id),
    )
    ctx.db.execute("UPDATE agents SET is_active = 0 WHERE id = ?", (agent_id,))
    return {
        "status": "ok",
        "message": f"agent {agent_id} deleted",
        "agent_id": agent_id,
        "deleted": True,
        "datasets_unlinked": cur.rowcount,
    }


@rpc("get_agent_datasets", readonly=True, params=(req_id("agent_id"), *URL_OPTIONS))
def get_agent_datasets(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The agent and its datasets, newest first (extra keys like include_signed_urls accepted)."""
    agent_id = ctx.params["agent_id"]
    owned_row(ctx.db, "agents", agent_id, ctx.tenant_id, active_only=True)
    rows = ctx.db.query(
        "SELECT d.*, a.name AS agent_name FROM datasets d JOIN agents a ON a.id = d.agent_id"
        " WHERE d.agent_id = ? AND d.tenant_id = ? ORDER BY d.id DESC",
        (agent_id, ctx.tenant_id),
    )
    return {
        "status": "ok",
        "agent": _entity(ctx.db, agent_id),
        "datasets": [dataset_entity(r, r["agent_name"]) for r in rows],
    }


@rpc(
    "set_dataset_agent",
    params=(req_id("dataset_id"), req_id("agent_id", nullable=True)),
)
def set_dataset_agent(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Link a dataset to an agent of the same tenant, or unlink it with ``agent_id: null``."""
    dataset_id, agent_id = ctx.params["dataset_id"], ctx.params["agent_id"]
    owned_row(ctx.db, "datasets", dataset_id, ctx.tenant_id)
    if agent_id is not None:
        owned_row(ctx.db, "agents", agent_id, ctx.tenant_id, active_only=True)
    ctx.db.execute("UPDATE datasets SET agent_id = ? WHERE id = ?", (agent_id, dataset_id))
    return {"status": "ok", "dataset": dataset_with_agent(ctx.db, dataset_id)}

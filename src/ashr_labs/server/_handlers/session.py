"""Session RPCs: ``init`` and ``keep_alive`` (protocol.md §2.2 "Session and utility")."""

from __future__ import annotations

from typing import Any

from .._rpc import CallContext, RpcError, rpc
from .._store import now_iso, tenant_entity, user_entity
from .notes import active_notes

__all__: list[str] = []


@rpc("init", readonly=True)
def init(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The caller's user and tenant (always both) and the notes for the tenant."""
    user = ctx.db.query_one("SELECT * FROM users WHERE id = ?", (ctx.user_id,))
    tenant = ctx.db.query_one("SELECT * FROM tenants WHERE id = ?", (ctx.tenant_id,))
    if user is None or tenant is None:
        raise RpcError(401, "the key's user or tenant no longer exists")
    return {
        "status": "ok",
        "user": user_entity(user),
        "tenant": tenant_entity(tenant),
        "notes": active_notes(ctx.db, ctx.tenant_id),
    }


@rpc("keep_alive", readonly=True)
def keep_alive(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Liveness: ``status`` plus the server time."""
    return {"status": "ok", "message": "alive", "timestamp": now_iso()}

"""SDK notes: ``get_sdk_notes`` and the query behind the notes in ``init``."""

from __future__ import annotations

from typing import Any

from .._db import Database
from .._params import opt_id
from .._rpc import CallContext, rpc
from .._store import note_entity, now_iso, owned_row

__all__ = ["active_notes"]


def active_notes(db: Database, tenant_id: int, agent_id: int | None = None) -> list[dict[str, Any]]:
    """Global and tenant notes, plus ``agent_id``'s: active now, not archived, not expired."""
    now = now_iso()
    rows = db.query(
        "SELECT * FROM sdk_notes WHERE is_archived = 0"
        " AND (active_from IS NULL OR active_from <= ?)"
        " AND (expires_at IS NULL OR expires_at > ?)"
        " AND ((tenant_id IS NULL AND agent_id IS NULL)"
        "      OR (tenant_id = ? AND agent_id IS NULL)"
        "      OR (agent_id IS NOT NULL AND agent_id = ? AND (tenant_id IS NULL OR tenant_id = ?)))"
        " ORDER BY id",
        (now, now, tenant_id, agent_id, tenant_id),
    )
    return [note_entity(r) for r in rows]


@rpc("get_sdk_notes", readonly=True, params=(opt_id("agent_id"),))
def get_sdk_notes(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Active notes: global, the tenant's, and ``agent_id``'s when given."""
    agent_id = ctx.params["agent_id"]
    if agent_id is not None:
        owned_row(ctx.db, "agents", agent_id, ctx.tenant_id)
    return {"status": "ok", "notes": active_notes(ctx.db, ctx.tenant_id, agent_id)}

"""API-key RPCs: ``list_api_keys`` (prefixes only) and ``revoke_api_key`` (effective at once)."""

from __future__ import annotations

from typing import Any

from .._params import Param, req_id
from .._rpc import CallContext, rpc
from .._store import api_key_entity, owned_row

__all__: list[str] = []


@rpc("list_api_keys", readonly=True, params=(Param("include_inactive", "bool", default=False),))
def list_api_keys(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's keys (active only unless ``include_inactive``), never the secrets."""
    include_inactive = ctx.params["include_inactive"]
    sql = "SELECT * FROM api_keys WHERE tenant_id = ?"
    if not include_inactive:
        sql += " AND is_active = 1"
    rows = ctx.db.query(sql + " ORDER BY id", (ctx.tenant_id,))
    return {"status": "ok", "api_keys": [api_key_entity(r) for r in rows]}


@rpc("revoke_api_key", params=(req_id("api_key_id"),))
def revoke_api_key(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Deactivate a key of the caller's tenant; the next request with it gets 401."""
    key_id = ctx.params["api_key_id"]
    owned_row(ctx.db, "api_keys", key_id, ctx.tenant_id)
    ctx.db.execute("UPDATE api_keys SET is_active = 0 WHERE id = ?", (key_id,))
    row = ctx.db.query_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
    return {
        "status": "ok",
        "message": f"API key {key_id} revoked",
        "api_key": api_key_entity(row),
    }

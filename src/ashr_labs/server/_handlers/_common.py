"""Small helpers shared by the RPC handlers: tenant resolution and user checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._rpc import FORBIDDEN_MESSAGE, CallContext, RpcError
from .._store import owned_row
from .._validate import opt_int

__all__ = ["resolve_tenant", "tenant_user"]


def resolve_tenant(ctx: CallContext, body: Mapping[str, Any]) -> int:
    """The body's ``tenant_id`` if it is the key's tenant; null or absent means the key's (F44)."""
    tenant_id = opt_int(body, "tenant_id")
    if tenant_id is not None and tenant_id != ctx.tenant_id:
        raise RpcError(403, FORBIDDEN_MESSAGE)
    return ctx.tenant_id


def tenant_user(ctx: CallContext, user_id: int | None) -> int:
    """A user id that must belong to the caller's tenant (403 otherwise); None → the caller."""
    if user_id is None:
        return ctx.user_id
    owned_row(ctx.db, "users", user_id, ctx.tenant_id)
    return user_id

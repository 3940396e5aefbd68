"""Small helpers shared by the RPC handlers: tenant resolution, list limits, user checks."""

from __future__ import annotations

from typing import Any

from .._rpc import FORBIDDEN_MESSAGE, CallContext, RpcError
from .._store import owned_row
from .._validate import opt_int

__all__ = ["LIST_LIMIT_MAX", "list_limit", "resolve_tenant", "tenant_user"]

LIST_LIMIT_MAX = 1000
"""Largest ``limit`` accepted by the dataset, run and request lists."""


def resolve_tenant(ctx: CallContext, body: dict[str, Any]) -> int:
    """The body's ``tenant_id`` if it is the key's tenant; null or absent means the key's (F44)."""
    tenant_id = opt_int(body, "tenant_id")
    if tenant_id is not None and tenant_id != ctx.tenant_id:
        raise RpcError(403, FORBIDDEN_MESSAGE)
    return ctx.tenant_id


def list_limit(body: dict[str, Any], *, default: int = 50, hi: int = LIST_LIMIT_MAX) -> int:
    """``limit`` in 1..hi (default 50)."""
    limit = opt_int(body, "limit", default=default, lo=1, hi=hi)
    assert limit is not None
    return limit


def tenant_user(ctx: CallContext, body: dict[str, Any], name: str) -> int:
    """A user id from the body that must belong to the caller's tenant; absent → the caller."""
    user_id = opt_int(body, name)
    if user_id is None:
        return ctx.user_id
    owned_row(ctx.db, "users", user_id, ctx.tenant_id)
    return user_id

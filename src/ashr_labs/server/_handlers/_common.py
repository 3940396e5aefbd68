"""Small helpers shared by the RPC handlers: tenant resolution, user checks, cursor paging."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._rpc import FORBIDDEN_MESSAGE, CallContext, RpcError
from .._store import owned_row
from .._validate import opt_int

__all__ = ["cursor_page", "resolve_tenant", "tenant_user"]


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


def cursor_page(
    ctx: CallContext,
    sql: str,
    params: Sequence[Any],
    id_column: str,
    entity: Callable[[Any], dict[str, Any]],
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of ``sql``'s rows (a SELECT ending in its WHERE clause), newest first.

    Reads ``limit`` and ``cursor`` (the last id seen; the page holds older rows) from
    ``ctx.params``; returns the entities and the next page's cursor, None after the last page.
    ``id_column`` is the caller's constant, never input.
    """
    limit, cursor = ctx.params["limit"], ctx.params["cursor"]
    if cursor is not None:
        sql += f" AND {id_column} < ?"  # noqa: S608 - id_column is a constant
        params = (*params, cursor)
    order = f" ORDER BY {id_column} DESC LIMIT ?"  # noqa: S608 - likewise
    rows = ctx.db.query(sql + order, (*params, limit + 1))
    items = [entity(row) for row in rows[:limit]]
    return items, items[-1]["id"] if len(rows) > limit and items else None

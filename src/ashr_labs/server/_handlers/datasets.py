"""Dataset RPCs: ``get_dataset`` and ``list_datasets`` (protocol.md §2.2 "Datasets").

Datasets are made by generation jobs (``create_request``); there is no create call. Lists run
newest first; ``cursor`` is the id of the last item seen and the next page holds older items.
There is no object store, so ``include_signed_urls`` adds nothing (documented, accepted).
"""

from __future__ import annotations

from typing import Any

from .._db import Database
from .._rpc import CallContext, rpc
from .._store import dataset_entity, owned_row
from .._validate import opt_bool, opt_int, req_int
from ._common import list_limit, resolve_tenant

__all__ = ["dataset_with_agent", "check_url_options"]

URL_EXPIRES_MAX = 7 * 24 * 3600


def check_url_options(body: dict[str, Any]) -> None:
    """Validate ``include_signed_urls`` and ``url_expires_seconds`` (1 s to 7 days)."""
    opt_bool(body, "include_signed_urls")
    opt_int(body, "url_expires_seconds", default=3600, lo=1, hi=URL_EXPIRES_MAX)


_SELECT = "SELECT d.*, a.name AS agent_name FROM datasets d LEFT JOIN agents a ON a.id = d.agent_id"


def dataset_with_agent(db: Database, dataset_id: int) -> dict[str, Any]:
    """The dataset entity with its agent's name filled in."""
    row = db.query_one(_SELECT + " WHERE d.id = ?", (dataset_id,))
    assert row is not None
    return dataset_entity(row, row["agent_name"])


@rpc("get_dataset", readonly=True)
def get_dataset(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """One dataset of the caller's tenant."""
    dataset_id = req_int(body, "dataset_id")
    check_url_options(body)
    owned_row(ctx.db, "datasets", dataset_id, ctx.tenant_id)
    return {"status": "ok", "dataset": dataset_with_agent(ctx.db, dataset_id)}


@rpc("list_datasets", readonly=True)
def list_datasets(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's datasets, newest first, each with ``request_id``; ``next_cursor`` pages on."""
    tenant_id = resolve_tenant(ctx, body)
    limit = list_limit(body)
    cursor = opt_int(body, "cursor")
    check_url_options(body)
    sql = _SELECT + " WHERE d.tenant_id = ?"
    params: list[Any] = [tenant_id]
    if cursor is not None:
        sql += " AND d.id < ?"
        params.append(cursor)
    rows = ctx.db.query(sql + " ORDER BY d.id DESC LIMIT ?", (*params, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [dataset_entity(r, r["agent_name"]) for r in rows]
    return {
        "status": "ok",
        "datasets": items,
        "next_cursor": items[-1]["id"] if more and items else None,
    }

"""Dataset RPCs: ``get_dataset`` and ``list_datasets`` (protocol.md §2.2 "Datasets").

Datasets are made by generation jobs (``create_request``); there is no create call. Lists run
newest first; ``cursor`` is the id of the last item seen and the next page holds older items.
There is no object store, so ``include_signed_urls`` adds nothing (documented, accepted).
"""

from __future__ import annotations

from typing import Any

from .._db import Database
from .._params import CURSOR, LIMIT, TENANT_ID, URL_OPTIONS, req_id
from .._rpc import CallContext, rpc
from .._store import dataset_entity, owned_row
from ._common import cursor_page, resolve_tenant

__all__ = ["dataset_with_agent"]

_SELECT = "SELECT d.*, a.name AS agent_name FROM datasets d LEFT JOIN agents a ON a.id = d.agent_id"


def dataset_with_agent(db: Database, dataset_id: int) -> dict[str, Any]:
    """The dataset entity with its agent's name filled in."""
    row = db.query_one(_SELECT + " WHERE d.id = ?", (dataset_id,))
    assert row is not None
    return dataset_entity(row, row["agent_name"])


@rpc("get_dataset", readonly=True, params=(req_id("dataset_id"), *URL_OPTIONS))
def get_dataset(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """One dataset of the caller's tenant."""
    dataset_id = ctx.params["dataset_id"]
    owned_row(ctx.db, "datasets", dataset_id, ctx.tenant_id)
    return {"status": "ok", "dataset": dataset_with_agent(ctx.db, dataset_id)}


@rpc("list_datasets", readonly=True, params=(TENANT_ID, LIMIT, CURSOR, *URL_OPTIONS))
def list_datasets(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's datasets, newest first, each with ``request_id``; ``next_cursor`` pages on."""
    tenant_id = resolve_tenant(ctx, body)
    items, next_cursor = cursor_page(
        ctx,
        _SELECT + " WHERE d.tenant_id = ?",
        (tenant_id,),
        "d.id",
        lambda row: dataset_entity(row, row["agent_name"]),
    )
    return {"status": "ok", "datasets": items, "next_cursor": next_cursor}

"""Run RPCs: ``create_run``, ``get_run``, ``list_runs``, ``delete_run`` (protocol.md §2.2 "Runs").

``create_run`` stores the submitted document with ``aggregate_metrics.tests_passed`` set to null
and ``grading_status: "pending"`` (protocol §3.3: otherwise ``poll_run`` returns ungraded data at
once); the grading worker fills it in. ``dataset_id`` may be null (``run_and_deploy`` sends that).
"""

from __future__ import annotations

import copy
from typing import Any

from .._params import LIMIT, TENANT_ID, Param, opt_id, req_id
from .._rpc import CallContext, RpcError, rpc
from .._store import dump_doc, now_iso, owned_row, run_entity
from ._common import resolve_tenant, tenant_user

__all__: list[str] = []


def _pending_result(result: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(result)
    metrics = doc.get("aggregate_metrics")
    if metrics is None:
        metrics = {}
    if not isinstance(metrics, dict):
        raise RpcError(422, "result.aggregate_metrics: expected an object")
    metrics["tests_passed"] = None
    doc["aggregate_metrics"] = metrics
    tests = doc.get("tests")
    if tests is not None and not isinstance(tests, list):
        raise RpcError(422, "result.tests: expected an array")
    return doc


@rpc(
    "create_run",
    params=(
        TENANT_ID,
        req_id("dataset_id", nullable=True),
        Param("result", "object", required=True),
        opt_id("runner_id"),
    ),
)
def create_run(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Store a run for grading; answers the run with ``grading_status: "pending"``."""
    tenant_id = resolve_tenant(ctx, body)
    dataset_id = ctx.params["dataset_id"]
    result = _pending_result(ctx.params["result"])
    runner_id = tenant_user(ctx, ctx.params["runner_id"])
    if dataset_id is not None:
        owned_row(ctx.db, "datasets", dataset_id, tenant_id)
    run_id = ctx.db.insert(
        "INSERT INTO runs (created_at, tenant_id, dataset_id, runner_id, result, grading_status)"
        " VALUES (?, ?, ?, ?, ?, 'pending')",
        (now_iso(), tenant_id, dataset_id, runner_id, dump_doc(result)),
    )
    row = ctx.db.query_one("SELECT * FROM runs WHERE id = ?", (run_id,))
    return {"status": "ok", "run": run_entity(row)}


@rpc("get_run", readonly=True, params=(req_id("run_id"),))
def get_run(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """One run of the caller's tenant."""
    run_id = ctx.params["run_id"]
    return {"status": "ok", "run": run_entity(owned_row(ctx.db, "runs", run_id, ctx.tenant_id))}


@rpc("list_runs", readonly=True, params=(TENANT_ID, LIMIT, opt_id("dataset_id")))
def list_runs(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's runs, newest first, optionally of one dataset."""
    tenant_id = resolve_tenant(ctx, body)
    limit, dataset_id = ctx.params["limit"], ctx.params["dataset_id"]
    sql = "SELECT * FROM runs WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if dataset_id is not None:
        owned_row(ctx.db, "datasets", dataset_id, tenant_id)
        sql += " AND dataset_id = ?"
        params.append(dataset_id)
    rows = ctx.db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return {"status": "ok", "runs": [run_entity(r) for r in rows]}


@rpc("delete_run", params=(req_id("run_id"),))
def delete_run(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a run of the caller's tenant."""
    run_id = ctx.params["run_id"]
    owned_row(ctx.db, "runs", run_id, ctx.tenant_id)
    ctx.db.execute("DELETE FROM runs WHERE id = ? AND tenant_id = ?", (run_id, ctx.tenant_id))
    return {"status": "ok", "message": f"run {run_id} deleted", "run_id": run_id, "deleted": True}

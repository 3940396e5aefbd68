"""Generation-request RPCs: ``create_request``, ``get_request``, ``list_requests``.

``create_request`` checks what the published client does not (protocol.md §3.4, last paragraph):
``test_config.num_variations`` 1–50, ``strategy``, the ``coverage`` keys, a
``complexity_distribution`` summing to about 1.0, and string lists for ``focus_areas``/``exclude``.
The request is stored ``pending`` and a worker generates its dataset. An optional ``agent_id``
(body key, or ``metadata.agent_id`` in the config) links the generated dataset to that agent.
"""

from __future__ import annotations

import math
from typing import Any

from .._generation_config import COMPLEXITIES, STRATEGIES
from .._generation_config import COVERAGE_KEYS as GENERATOR_COVERAGE_KEYS
from .._params import CURSOR, LIMIT, TENANT_ID, Param, opt_id, req_id
from .._rpc import CallContext, RpcError, rpc
from .._store import dump_doc, now_iso, owned_row, request_entity
from .._validate import INT64_MAX, describe, fail
from ._common import cursor_page, resolve_tenant, tenant_user

__all__ = ["REQUEST_STATUSES", "validate_test_config"]

REQUEST_STATUSES = ("pending", "processing", "completed", "failed")
# The published client's pentest configs (request_pentest_dataset) also set the last two.
COVERAGE_KEYS = (*GENERATOR_COVERAGE_KEYS, "adversarial", "security")


def _string_list(value: Any, field: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(field, "an array of strings", value)


def validate_test_config(config: dict[str, Any]) -> None:
    """422 for ``request.test_config`` values outside the documented ranges."""
    tc = config.get("test_config")
    if tc is None:
        return
    if not isinstance(tc, dict):
        raise fail("request.test_config", "an object", tc)
    nv = tc.get("num_variations")
    if nv is not None and (not isinstance(nv, int) or isinstance(nv, bool) or not 1 <= nv <= 50):
        raise fail("request.test_config.num_variations", "an integer 1–50", nv)
    strategy = tc.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise fail("request.test_config.strategy", "one of " + ", ".join(STRATEGIES), strategy)
    coverage = tc.get("coverage")
    if coverage is not None:
        if not isinstance(coverage, dict):
            raise fail("request.test_config.coverage", "an object", coverage)
        for key, value in coverage.items():
            if key not in COVERAGE_KEYS:
                raise RpcError(
                    422,
                    f"request.test_config.coverage: expected keys from {', '.join(COVERAGE_KEYS)},"
                    f" got {describe(key)}",
                )
            if not isinstance(value, bool):
                raise fail(f"request.test_config.coverage.{key}", "a boolean", value)
    _check_complexity(tc.get("complexity_distribution"))
    for name in ("focus_areas", "exclude"):
        if tc.get(name) is not None:
            _string_list(tc[name], f"request.test_config.{name}")


def _check_complexity(dist: Any) -> None:
    field = "request.test_config.complexity_distribution"
    if dist is None:
        return
    if not isinstance(dist, dict):
        raise fail(field, "an object", dist)
    total = 0.0
    for key, value in dist.items():
        if key not in COMPLEXITIES:
            raise RpcError(
                422,
                f"{field}: expected keys from {', '.join(COMPLEXITIES)}, got {describe(key)}",
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 <= value <= 1
        ):
            raise fail(f"{field}.{key}", "a number 0–1", value)
        total += float(value)
    if dist and abs(total - 1.0) > 0.05:
        raise RpcError(422, f"{field}: expected values summing to about 1.0, got {round(total, 4)}")


def _agent_id(ctx: CallContext, config: dict[str, Any]) -> int | None:
    agent_id: int | None = ctx.params["agent_id"]
    metadata = config.get("metadata")
    if agent_id is None and isinstance(metadata, dict) and metadata.get("agent_id") is not None:
        agent_id = metadata["agent_id"]
        if (
            not isinstance(agent_id, int)
            or isinstance(agent_id, bool)
            or not 1 <= agent_id <= INT64_MAX
        ):
            raise fail("request.metadata.agent_id", f"an integer 1–{INT64_MAX}", agent_id)
    if agent_id is not None:
        owned_row(ctx.db, "agents", agent_id, ctx.tenant_id, active_only=True)
    return agent_id


@rpc(
    "create_request",
    params=(
        TENANT_ID,
        opt_id("requestor_id"),
        Param("request_name", "str", required=True, min_len=1, max_len=500),
        Param("request", "object", required=True),
        Param("request_input_schema", "object"),
        opt_id("agent_id"),
    ),
)
def create_request(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Store a generation request (``pending``); the workers wake once the call commits."""
    tenant_id = resolve_tenant(ctx, body)
    requestor_id = tenant_user(ctx, ctx.params["requestor_id"])
    name, config = ctx.params["request_name"], ctx.params["request"]
    schema = ctx.params["request_input_schema"]
    if schema is None:
        schema = {"type": "object", "properties": {}}
    validate_test_config(config)
    agent_id = _agent_id(ctx, config)
    now = now_iso()
    request_id = ctx.db.insert(
        "INSERT INTO requests (created_at, updated_at, tenant_id, requestor_id, request_name,"
        " request_status, request_input_schema, request, agent_id)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (now, now, tenant_id, requestor_id, name, dump_doc(schema), dump_doc(config), agent_id),
    )
    row = ctx.db.query_one("SELECT * FROM requests WHERE id = ?", (request_id,))
    return {"status": "ok", "request": request_entity(row)}


@rpc("get_request", readonly=True, params=(req_id("request_id"),))
def get_request(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """One request of the caller's tenant (``error`` explains a ``failed`` status)."""
    request_id = ctx.params["request_id"]
    row = owned_row(ctx.db, "requests", request_id, ctx.tenant_id)
    return {"status": "ok", "request": request_entity(row)}


@rpc(
    "list_requests",
    readonly=True,
    params=(TENANT_ID, LIMIT, Param("status", "str", choices=REQUEST_STATUSES), CURSOR),
)
def list_requests(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """The tenant's requests, newest first, optionally by exact status; cursor paging."""
    tenant_id = resolve_tenant(ctx, body)
    status = ctx.params["status"]
    sql = "SELECT * FROM requests WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if status is not None:
        sql += " AND request_status = ?"
        params.append(status)
    items, next_cursor = cursor_page(ctx, sql, params, "id", request_entity)
    return {"status": "ok", "requests": items, "next_cursor": next_cursor}

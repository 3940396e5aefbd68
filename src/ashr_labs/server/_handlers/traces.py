"""Observability RPCs: trace ingest and the trace, error and analytics queries (protocol.md §2.2).

All of them need the tenant's ``observability`` feature (403 while it is off) and read or write
only the caller's tenant. Trace summaries carry the reference's keys (id, name, user_id,
session_id, metadata, tags, created_at, output) plus documented extras: input, start_time,
end_time, latency_ms, observation_count, has_error, input_tokens, output_tokens, total_tokens,
tool_calls, incomplete, dropped_spans, level, status_message. Ordering ("newest first") and
the ``days`` windows use the trace's start: its own ``start_time``, else its first observation's,
else when the server received it. How tools, tokens and p95 are computed is described in
``server/_analytics.py``.
"""

from __future__ import annotations

import re
from typing import Any

from .. import _trace_store as store
from .._analytics import since_timestamp
from .._params import TENANT_ID, Param
from .._rpc import FORBIDDEN_MESSAGE, CallContext, RpcError, rpc
from .._store import OBSERVABILITY
from .._trace_payload import parse_ingest_body
from .._validate import req_str
from ._common import resolve_tenant

__all__: list[str] = []

FEATURE = OBSERVABILITY
MAX_LIMIT = 100
MAX_DAYS = 3650
MAX_PAGE = 1_000_000
_OTEL_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_PAGING = (
    Param("limit", "int", hi=MAX_LIMIT, default=50),
    Param("page", "int", hi=MAX_PAGE, default=1),
)
_DAYS = Param("days", "int", hi=MAX_DAYS, default=7)


@rpc("ingest_observability_trace", feature=FEATURE, params=(TENANT_ID,))
def ingest_observability_trace(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Store a whole trace; a repeat of the same trace id merges instead of duplicating."""
    tenant_id = resolve_tenant(ctx, body)
    trace, observations = parse_ingest_body(body)
    with ctx.db.transaction() as conn:
        trace_id = store.upsert_trace(conn, tenant_id, trace, observations)
    return {"status": "ok", "trace_id": trace_id}


@rpc(
    "list_observability_traces",
    feature=FEATURE,
    readonly=True,
    params=(TENANT_ID, *_PAGING, Param("user_id", "str"), Param("session_id", "str")),
)
def list_observability_traces(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """A page of the tenant's traces, newest first, optionally for one user or session."""
    tenant_id = resolve_tenant(ctx, body)
    limit, page = ctx.params["limit"], ctx.params["page"]
    user_id, session_id = ctx.params["user_id"], ctx.params["session_id"]
    with ctx.db.transaction(immediate=False) as conn:
        traces, total = store.list_traces(
            conn, tenant_id, user_id=user_id, session_id=session_id, limit=limit, page=page
        )
    return {"status": "ok", "traces": traces, "total": total}


@rpc("get_observability_trace", feature=FEATURE, readonly=True, params=(TENANT_ID,))
def get_observability_trace(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """One trace with its observations; another tenant's id gets the fixed 403 (F44)."""
    tenant_id = resolve_tenant(ctx, body)
    trace_id = req_str(body, "trace_id", max_len=128)
    if _OTEL_ID.match(trace_id):
        trace_id = trace_id.lower()  # ids are stored lower-case, as OTel prints them
    with ctx.db.transaction(immediate=False) as conn:
        trace = store.get_trace(conn, tenant_id, trace_id)
        if trace is None:
            if store.trace_exists_for_other_tenant(conn, tenant_id, trace_id):
                raise RpcError(403, FORBIDDEN_MESSAGE)
            raise RpcError(404, f"trace {trace_id!r} not found")
    return {"status": "ok", "trace": trace}


@rpc("get_observability_analytics", feature=FEATURE, readonly=True, params=(TENANT_ID, _DAYS))
def get_observability_analytics(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Overview, tool performance and model usage over the last ``days`` days."""
    tenant_id = resolve_tenant(ctx, body)
    days = ctx.params["days"]
    with ctx.db.transaction(immediate=False) as conn:
        result = store.analytics(conn, tenant_id, since=since_timestamp(days))
    return {"status": "ok", "days": days, **result}


def _error_traces(ctx: CallContext, body: dict[str, Any], *, tools_only: bool) -> dict[str, Any]:
    tenant_id = resolve_tenant(ctx, body)
    days, limit, page = ctx.params["days"], ctx.params["limit"], ctx.params["page"]
    with ctx.db.transaction(immediate=False) as conn:
        traces, total = store.list_error_traces(
            conn,
            tenant_id,
            since=since_timestamp(days),
            tools_only=tools_only,
            limit=limit,
            page=page,
        )
    return {"status": "ok", "traces": traces, "total": total}


@rpc(
    "get_observability_errors", feature=FEATURE, readonly=True, params=(TENANT_ID, _DAYS, *_PAGING)
)
def get_observability_errors(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Traces in the window with an ERROR observation, an ERROR root, or the published client's
    failed-trace output ``{"error": "..."}``, most recent first."""
    return _error_traces(ctx, body, tools_only=False)


@rpc(
    "get_observability_tool_errors",
    feature=FEATURE,
    readonly=True,
    params=(TENANT_ID, _DAYS, *_PAGING),
)
def get_observability_tool_errors(ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
    """Traces with a failed tool call (level ERROR) in the window, most recent first."""
    return _error_traces(ctx, body, tools_only=True)

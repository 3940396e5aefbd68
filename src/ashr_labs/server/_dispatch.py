"""From (method, path, headers, body) to an answer: routing, auth, envelope, transaction, errors.

This is the whole request pipeline without sockets, so tests (Hypothesis included) can drive it
in-process and the HTTP layer stays a thin reader/writer. Order for an RPC: method check, size
failure, bearer key (401/429), body parse (400), function lookup (400), feature flag (403), then
the handler inside one transaction (idempotent creates replay their first answer, F37).
Unexpected exceptions become a 500 carrying a correlation id; the detail is logged, redacted,
under the same id (F53).
"""

from __future__ import annotations

import dataclasses
import json
import re
import traceback
import uuid
from typing import Any

from .._log import logger
from ._auth import authenticate
from ._db import DatabaseBusyError
from ._json import dumps, parse_body
from ._params import read_params
from ._rpc import (
    CallContext,
    Headers,
    RawRequest,
    RawResponse,
    RouteSpec,
    RpcError,
    RpcSpec,
    registered_routes,
    registered_rpcs,
)
from ._state import ServerState
from ._store import feature_enabled, load_doc, now_iso
from ._validate import opt_str

__all__ = [
    "IDEMPOTENT_FUNCTIONS",
    "Dispatcher",
    "base_prefix",
    "envelope_response",
    "redact",
    "redacted_traceback",
]

IDEMPOTENT_FUNCTIONS = frozenset({"create_run", "create_request", "create_agent"})
"""Create calls whose optional ``idempotency_key`` replays the first answer (F37)."""

_SECRET_PATTERNS = [
    re.compile(r"tp_[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[^\s'\"]+"),
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
]


def redact(text: str) -> str:
    """Remove API keys and bearer tokens from text bound for a log."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + "[REDACTED]", text)
    return text


def base_prefix(base_path: str) -> str:
    """``base_path`` as a URL path prefix: ``""`` or ``"/seg..."`` without a trailing slash."""
    stripped = base_path.strip("/")
    return "/" + stripped if stripped else ""


def redacted_traceback(exc: BaseException) -> str:
    """``exc``'s full traceback with secrets removed, for the server log (F53)."""
    return redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def envelope_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> RawResponse:
    """The RPC error envelope ``{"status":"error","message":...}``."""
    out = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return RawResponse(status, out, dumps({"status": "error", "message": message}))


def _ok_response(body: dict[str, Any]) -> RawResponse:
    """A success answer; ``body`` already carries its ``status`` (``Dispatcher._call`` adds it)."""
    return RawResponse(200, {"Content-Type": "application/json; charset=utf-8"}, dumps(body))


class Dispatcher:
    """Answers requests for one server: RPC at the base path(s), raw routes elsewhere."""

    def __init__(self, state: ServerState, *, base_path: str = "") -> None:
        self.state = state
        base = base_prefix(base_path)
        self.rpc_paths = {"/", base, base + "/"} - {""}

    def handle(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        *,
        client_addr: str = "127.0.0.1",
        body_error: RpcError | None = None,
    ) -> RawResponse:
        """Answer one request. ``body_error`` carries a size failure found before reading."""
        request_id = uuid.uuid4().hex[:16]
        path, _, query = target.partition("?")
        route = registered_routes().get((method.upper(), path))
        if route is not None:
            return self._raw(
                route, method, path, query, headers, body, client_addr, body_error, request_id
            )
        if path not in self.rpc_paths:
            if any(p == path for (_m, p) in registered_routes()):
                return envelope_response(405, f"method {method} not allowed on {path}")
            shown = json.dumps(path[:200])
            return envelope_response(404, f"no such path {shown}; send RPC calls as POST to /")
        if method.upper() != "POST":
            return envelope_response(
                405, f"method {method} not allowed; send RPC calls as POST", {"Allow": "POST"}
            )
        try:
            if body_error is not None:
                raise body_error
            identity = authenticate(self.state, headers.get("Authorization"), client_addr)
            payload = parse_body(body)
            spec = registered_rpcs().get(payload["function"])
            if spec is None:
                name = json.dumps(payload["function"][:100], ensure_ascii=False)
                raise RpcError(400, f"unknown function {name}")
            ctx = CallContext(
                db=self.state.db,
                tenant_id=identity.tenant_id,
                user_id=identity.user_id,
                key_id=identity.key_id,
                server=self.state,
                request_id=request_id,
            )
            return _ok_response(self._call(spec, ctx, payload))
        except RpcError as exc:
            return envelope_response(exc.status, exc.message, exc.headers)
        except DatabaseBusyError:
            return self._busy()
        except Exception as exc:  # F53: the one catch-all, logged under a correlation id
            return self._internal_error(exc, request_id)

    # -- RPC ---------------------------------------------------------------------------------------
    def _call(self, spec: RpcSpec, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        db = ctx.db
        if spec.feature is not None and not feature_enabled(db, ctx.tenant_id, spec.feature):
            raise RpcError(403, f"the {spec.feature} feature is not enabled for this tenant")
        if spec.params:
            ctx = dataclasses.replace(ctx, params=read_params(payload, spec.params))
        idem_key = None
        if spec.name in IDEMPOTENT_FUNCTIONS:
            idem_key = opt_str(payload, "idempotency_key", max_len=200, min_len=1)
        with db.transaction(immediate=not spec.readonly):
            if idem_key is not None:
                row = db.query_one(
                    "SELECT response FROM idempotency"
                    " WHERE tenant_id = ? AND function = ? AND key = ?",
                    (ctx.tenant_id, spec.name, idem_key),
                )
                if row is not None:
                    replay: dict[str, Any] = load_doc(row["response"])  # always an object
                    return replay
            result = spec.handler(ctx, payload)
            if not isinstance(result, dict):
                raise TypeError(f"handler for {spec.name!r} returned {type(result).__name__}")
            if "status" not in result:
                result = {"status": "ok", **result}
            if idem_key is not None:
                db.execute(
                    "INSERT INTO idempotency (tenant_id, function, key, response, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (ctx.tenant_id, spec.name, idem_key, dumps(result).decode("utf-8"), now_iso()),
                )
        if not spec.readonly:
            self.state.notify_jobs()
        return result

    # -- raw routes --------------------------------------------------------------------------------
    def _raw(
        self,
        route: RouteSpec,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        client_addr: str,
        body_error: RpcError | None,
        request_id: str,
    ) -> RawResponse:
        req = RawRequest(
            method=method.upper(),
            path=path,
            headers=headers,
            body=b"" if body_error is not None else body,
            error=body_error,
            server=self.state,
            request_id=request_id,
            query=query,
        )
        try:
            if req.error is None and route.auth == "bearer":
                try:
                    identity = authenticate(self.state, headers.get("Authorization"), client_addr)
                except RpcError as exc:
                    req.error = exc
                else:
                    req.tenant_id = identity.tenant_id
                    req.user_id = identity.user_id
                    req.key_id = identity.key_id
            return route.handler(req)
        except DatabaseBusyError:
            return self._busy()
        except Exception as exc:
            return self._internal_error(exc, request_id)

    # -- failures ----------------------------------------------------------------------------------
    def _busy(self) -> RawResponse:
        retry = str(self.state.settings.retry_after_s)
        return envelope_response(503, "the database is busy; retry shortly", {"Retry-After": retry})

    def _internal_error(self, exc: BaseException, request_id: str) -> RawResponse:
        logger.error("internal error [ref %s]: %s", request_id, redacted_traceback(exc))
        return envelope_response(
            500, f"internal server error (ref {request_id}); the server log has the details"
        )

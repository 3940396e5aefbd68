"""The dispatch contract every handler module uses: ``@rpc``, ``@http_route``, ``RpcError``.

An RPC handler is ``handler(ctx: CallContext, body: dict) -> dict``: ``body`` is the parsed
request object (``function`` included, unknown keys left for the handler to ignore) and the
returned dict is the success body (``"status": "ok"`` is added when missing). Raise ``RpcError``
for every expected failure; anything else becomes a 500 with a correlation id (F53). The
dispatcher wraps each call in one database transaction, so a failed call stores nothing.

Raw routes (``@http_route``) serve non-RPC paths such as OTLP's ``/v1/traces``. They get the
bearer-key check and the body-size limit too, but receive the failure in ``RawRequest.error``
and answer it in their own format.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._db import Database
from ._state import ServerSettings, ServerState

if TYPE_CHECKING:
    from ._params import Param

__all__ = [
    "FORBIDDEN_MESSAGE",
    "CallContext",
    "Headers",
    "RawRequest",
    "RawResponse",
    "RouteSpec",
    "RpcError",
    "RpcSpec",
    "ServerSettings",
    "ServerState",
    "http_route",
    "read_limited_gzip",
    "registered_routes",
    "registered_rpcs",
    "rpc",
]

FORBIDDEN_MESSAGE = "forbidden: this object is not accessible with this API key"
"""The one 403 message for any object of another tenant (F44): it names neither object nor owner."""


class RpcError(Exception):
    """An expected failure answered as ``{"status": "error", "message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"RpcError({self.status}, {self.message!r})"


@dataclass(frozen=True)
class CallContext:
    """Who is calling and with what: handed to every RPC handler."""

    db: Database
    tenant_id: int
    user_id: int
    key_id: int
    server: ServerState
    request_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    """The body's declared parameters, checked and defaulted (``@rpc(..., params=...)``)."""


RpcHandler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RpcSpec:
    """One registered RPC: its wire name, handler and the tenant feature it needs, if any."""

    name: str
    handler: RpcHandler
    feature: str | None = None
    readonly: bool = False
    """Read-only calls use a deferred transaction; writers take the write lock up front."""
    params: tuple[Param, ...] = ()
    """Declared body keys, checked (422) before the handler runs; see ``_params``."""


_RPCS: dict[str, RpcSpec] = {}


def rpc(
    name: str,
    *,
    feature: str | None = None,
    readonly: bool = False,
    params: Sequence[Param] = (),
) -> Callable[[RpcHandler], RpcHandler]:
    """Register ``handler`` for the wire function ``name``.

    ``feature="observability"`` makes the call answer 403 while that tenant flag is off.
    ``params`` declares body keys the dispatcher checks first; the handler reads them from
    ``ctx.params``. Undeclared keys stay in ``body`` for the handler to check itself.
    """

    def register(handler: RpcHandler) -> RpcHandler:
        existing = _RPCS.get(name)
        if existing is not None and existing.handler is not handler:
            qual = getattr(existing.handler, "__qualname__", "?")
            if qual != getattr(handler, "__qualname__", "?"):
                raise RuntimeError(f"RPC {name!r} is registered twice")
        _RPCS[name] = RpcSpec(name, handler, feature, readonly, tuple(params))
        return handler

    return register


def registered_rpcs() -> dict[str, RpcSpec]:
    """A snapshot of every registered RPC by wire name."""
    return dict(_RPCS)


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive request headers (last value wins)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        items = items if items is not None else []
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (orig for orig, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __repr__(self) -> str:
        shown = {
            k: ("<redacted>" if k.lower() in {"authorization", "x-api-key", "cookie"} else v)
            for k, v in self.items()
        }
        return f"Headers({shown!r})"


@dataclass
class RawRequest:
    """A request on a raw route. ``error`` holds an auth or size failure for the route to format.

    When ``error`` is set the body was not read (size) or the caller is unknown (auth):
    ``tenant_id``/``user_id`` are None and the handler must answer with the failure's status.
    """

    method: str
    path: str
    headers: Headers
    body: bytes
    tenant_id: int | None = None
    user_id: int | None = None
    key_id: int | None = None
    error: RpcError | None = None
    server: ServerState | None = None
    request_id: str = ""
    query: str = ""


@dataclass
class RawResponse:
    """What a raw route answers: status, headers, body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


RawHandler = Callable[[RawRequest], RawResponse]


@dataclass(frozen=True)
class RouteSpec:
    """One registered raw route."""

    method: str
    path: str
    handler: RawHandler
    auth: Literal["bearer", "none"] = "bearer"


_ROUTES: dict[tuple[str, str], RouteSpec] = {}


def http_route(
    method: str, path: str, *, auth: Literal["bearer", "none"] = "bearer"
) -> Callable[[RawHandler], RawHandler]:
    """Register a raw handler for ``method path`` (exact path, no base-path prefix)."""
    if not path.startswith("/"):
        raise ValueError(f"route path must start with '/', got {path!r}")

    def register(handler: RawHandler) -> RawHandler:
        _ROUTES[(method.upper(), path)] = RouteSpec(method.upper(), path, handler, auth)
        return handler

    return register


def registered_routes() -> dict[tuple[str, str], RouteSpec]:
    """A snapshot of the raw routes by (METHOD, path)."""
    return dict(_ROUTES)


def read_limited_gzip(data: bytes, cap: int) -> bytes:
    """Inflate a gzip (or zlib) body, refusing to produce more than ``cap`` bytes (F45).

    Concatenated gzip members are all inflated (RFC 1952). Raises ``RpcError(413)`` past the
    cap and ``RpcError(400)`` for data that is not gzip. Memory stays within about ``cap`` plus
    one chunk however far the data would inflate.
    """
    out = bytearray()
    rest = data
    try:
        while True:
            rest = _inflate_member(rest, cap, out)
            if not rest.strip(b"\0"):
                return bytes(out)
    except zlib.error as exc:
        raise RpcError(400, "body is not valid gzip data") from exc


def _inflate_member(data: bytes, cap: int, out: bytearray) -> bytes:
    """Inflate one member into ``out``; returns the bytes after it."""
    decomp = zlib.decompressobj(wbits=47)  # 32 + 15: auto-detect gzip or zlib headers
    chunk = 64 * 1024
    pos = 0
    while not decomp.eof:
        if decomp.unconsumed_tail:
            source = decomp.unconsumed_tail
        elif pos < len(data):
            source = data[pos : pos + chunk]
            pos += chunk
        else:
            raise RpcError(400, "body is not valid gzip data: truncated stream")
        out += decomp.decompress(source, cap + 1 - len(out))
        if len(out) > cap:
            raise RpcError(413, f"decompressed body exceeds the limit of {cap} bytes")
    return decomp.unused_data + decomp.unconsumed_tail + data[pos:]

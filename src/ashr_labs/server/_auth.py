"""API keys: making them, storing only their hash, and checking a request's bearer key (F43).

A key is ``tp_`` + 43 URL-safe characters (``secrets.token_urlsafe(32)``). The database keeps the
SHA-256 hex digest and an 11-character display prefix; the key itself is shown once and never
logged or stored (F40). A malformed key is refused before any database lookup. Every failure —
missing header, wrong scheme, malformed, unknown, revoked, expired — gets the same 401 message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ._db import DatabaseBusyError
from ._rpc import RpcError
from ._state import ServerState
from ._store import now_iso

__all__ = [
    "AUTH_FAILED_MESSAGE",
    "Identity",
    "authenticate",
    "display_prefix",
    "generate_key",
    "hash_key",
    "is_well_formed",
]

KEY_PREFIX = "tp_"
_KEY_RE = re.compile(r"tp_[A-Za-z0-9_-]{43}")
_DISPLAY_LEN = 11
LAST_USED_EVERY_S = 60.0

AUTH_FAILED_MESSAGE = (
    "authentication failed: send a valid, active API key as 'Authorization: Bearer tp_...'"
)


def generate_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What the database stores for a key: its SHA-256 hex digest."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """The short, non-secret start of a key shown in listings."""
    return key[:_DISPLAY_LEN]


def is_well_formed(key: str) -> bool:
    """Whether ``key`` has the shape of a key this server issues."""
    return _KEY_RE.fullmatch(key) is not None


@dataclass(frozen=True)
class Identity:
    """The caller behind an accepted key."""

    key_id: int
    tenant_id: int
    user_id: int


def _unauthorized(state: ServerState, client_addr: str) -> RpcError:
    wait = state.auth_fail_limiter.acquire(("auth-fail", client_addr))
    if wait is not None:
        retry = state.auth_fail_limiter.retry_after_header(wait)
        return RpcError(
            429,
            "too many failed authentications from this address; retry later",
            headers={"Retry-After": retry},
        )
    return RpcError(401, AUTH_FAILED_MESSAGE)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def authenticate(state: ServerState, authorization: str | None, client_addr: str) -> Identity:
    """Check a request's key and rate; raises RpcError 401 or 429."""
    token = bearer_token(authorization)
    if token is None or not is_well_formed(token):
        raise _unauthorized(state, client_addr)
    digest = hash_key(token)
    now = now_iso()
    rows = state.db.query(
        "SELECT k.id, k.key_hash, k.tenant_id, k.user_id, k.is_active, k.expires_at,"
        " t.is_active AS tenant_active, u.is_active AS user_active"
        " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id JOIN users u ON u.id = k.user_id"
        " WHERE k.key_prefix = ?",
        (display_prefix(token),),
    )
    found = None
    for row in rows:
        if hmac.compare_digest(str(row["key_hash"]), digest):
            found = row
    if (
        found is None
        or not found["is_active"]
        or not found["tenant_active"]
        or not found["user_active"]
        or (found["expires_at"] is not None and str(found["expires_at"]) <= now)
    ):
        raise _unauthorized(state, client_addr)
    identity = Identity(int(found["id"]), int(found["tenant_id"]), int(found["user_id"]))
    wait = state.key_limiter.acquire(("key", identity.key_id))
    if wait is not None:
        raise RpcError(
            429,
            "rate limit exceeded for this API key; retry later",
            headers={"Retry-After": state.key_limiter.retry_after_header(wait)},
        )
    _touch(state, identity.key_id, now)
    return identity


def _touch(state: ServerState, key_id: int, now: str) -> None:
    """Record ``last_used_at`` at most once a minute per key; a busy database just skips it."""
    tick = state.clock()
    last = state.last_used_written.get(key_id)
    if last is not None and tick - last < LAST_USED_EVERY_S:
        return
    state.last_used_written[key_id] = tick
    try:
        state.db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))
    except DatabaseBusyError:
        state.last_used_written.pop(key_id, None)

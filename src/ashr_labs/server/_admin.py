"""Operator actions on a server database: tenants, users, keys, feature flags, notes.

Shared by ``LocalServer`` (tests, quick start) and the ``ashr-labs`` CLI, which runs them
directly on the SQLite file without a server. Keys are returned once and stored only hashed.
"""

from __future__ import annotations

from typing import Any

from ._auth import display_prefix, generate_key, hash_key
from ._db import Database
from ._store import DEFAULT_FEATURES, api_key_entity, dump_doc, note_entity, now_iso

__all__ = [
    "NOTE_CATEGORIES",
    "NOTE_SEVERITIES",
    "add_note",
    "create_api_key",
    "create_tenant",
    "default_tenant",
    "ensure_default_tenant",
    "first_user",
    "list_api_keys",
    "list_notes",
    "revoke_api_key",
    "set_feature",
]

NOTE_CATEGORIES = ("info", "warning", "breaking_change", "best_practice", "deprecation")
NOTE_SEVERITIES = ("info", "warning", "critical")


def create_tenant(
    db: Database,
    name: str,
    *,
    features: dict[str, bool] | None = None,
    email: str | None = None,
) -> tuple[int, int]:
    """Create a tenant and its first user; returns ``(tenant_id, user_id)``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"tenant name: expected a non-empty string, got {name!r}")
    now = now_iso()
    with db.transaction():
        tenant_id = db.insert(
            "INSERT INTO tenants (created_at, tenant_name, is_active) VALUES (?, ?, 1)", (now, name)
        )
        user_id = db.insert(
            "INSERT INTO users (created_at, tenant_id, email, name, is_active)"
            " VALUES (?, ?, ?, ?, 1)",
            (now, tenant_id, email or f"admin@tenant{tenant_id}.local", None),
        )
        for feature, on in {**DEFAULT_FEATURES, **(features or {})}.items():
            set_feature(db, tenant_id, feature, on)
    return tenant_id, user_id


def default_tenant(db: Database) -> int | None:
    """The first tenant created (the one ``ashr-labs serve`` makes on first start), if any."""
    row = db.query_one("SELECT id FROM tenants ORDER BY id LIMIT 1")
    return None if row is None else int(row["id"])


def ensure_default_tenant(db: Database) -> tuple[int, bool]:
    """The default tenant, created with its admin user when the database has no tenant yet.

    Returns ``(tenant_id, created)``; ``LocalServer`` and ``ashr-labs keys create`` both start
    a fresh data directory this way.
    """
    tenant_id = default_tenant(db)
    if tenant_id is not None:
        return tenant_id, False
    tenant_id, _user = create_tenant(db, "default", email="admin@localhost")
    return tenant_id, True


def first_user(db: Database, tenant_id: int) -> int:
    """The tenant's first active user (keys are issued to it)."""
    row = db.query_one(
        "SELECT id FROM users WHERE tenant_id = ? AND is_active = 1 ORDER BY id LIMIT 1",
        (tenant_id,),
    )
    if row is None:
        raise ValueError(f"tenant {tenant_id} has no active user")
    return int(row["id"])


def create_api_key(
    db: Database,
    tenant_id: int,
    *,
    name: str = "default",
    user_id: int | None = None,
    expires_at: str | None = None,
) -> tuple[int, str]:
    """Issue a key for a tenant's user; returns ``(key_id, key)``. Only the hash is stored."""
    if db.query_one("SELECT id FROM tenants WHERE id = ?", (tenant_id,)) is None:
        raise ValueError(f"tenant_id: no tenant {tenant_id}")
    uid = first_user(db, tenant_id) if user_id is None else user_id
    key = generate_key()
    with db.transaction():
        key_id = db.insert(
            "INSERT INTO api_keys (created_at, tenant_id, user_id, name, key_prefix, key_hash,"
            " scopes, expires_at, is_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (now_iso(), tenant_id, uid, name, display_prefix(key), hash_key(key), "[]", expires_at),
        )
    return key_id, key


def list_api_keys(db: Database, tenant_id: int | None = None) -> list[dict[str, Any]]:
    """Every key (prefix only), of one tenant or all."""
    if tenant_id is None:
        rows = db.query("SELECT * FROM api_keys ORDER BY id")
    else:
        rows = db.query("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY id", (tenant_id,))
    return [api_key_entity(r) for r in rows]


def revoke_api_key(db: Database, key_id: int) -> bool:
    """Deactivate a key; False when no such key exists."""
    with db.transaction():
        cur = db.execute("UPDATE api_keys SET is_active = 0 WHERE id = ?", (key_id,))
    return cur.rowcount > 0


def set_feature(db: Database, tenant_id: int, name: str, on: bool) -> None:
    """Turn a tenant feature flag (e.g. ``observability``) on or off."""
    with db.transaction():
        db.execute(
            "INSERT INTO tenant_features (tenant_id, name, enabled) VALUES (?, ?, ?)"
            " ON CONFLICT (tenant_id, name) DO UPDATE SET enabled = excluded.enabled",
            (tenant_id, name, 1 if on else 0),
        )


def add_note(
    db: Database,
    title: str,
    content: str,
    *,
    category: str = "info",
    severity: str = "info",
    tenant_id: int | None = None,
    agent_id: int | None = None,
    active_from: str | None = None,
    expires_at: str | None = None,
    is_archived: bool = False,
    note_metadata: dict[str, Any] | None = None,
) -> int:
    """Add an SDK note: global (no tenant), for a tenant, or for one agent. Returns its id."""
    if category not in NOTE_CATEGORIES:
        raise ValueError(
            f"category: expected one of {', '.join(NOTE_CATEGORIES)}, got {category!r}"
        )
    if severity not in NOTE_SEVERITIES:
        raise ValueError(
            f"severity: expected one of {', '.join(NOTE_SEVERITIES)}, got {severity!r}"
        )
    if not title or not content:
        raise ValueError("title and content: expected non-empty strings")
    if agent_id is not None:
        row = db.query_one("SELECT tenant_id FROM agents WHERE id = ?", (agent_id,))
        if row is None:
            raise ValueError(f"agent_id: no agent {agent_id}")
        if tenant_id is None:
            tenant_id = int(row["tenant_id"])
        elif int(row["tenant_id"]) != tenant_id:
            raise ValueError(f"agent_id: agent {agent_id} is not in tenant {tenant_id}")
    now = now_iso()
    with db.transaction():
        return db.insert(
            "INSERT INTO sdk_notes (created_at, updated_at, title, content, category, severity,"
            " tenant_id, agent_id, active_from, expires_at, is_archived, note_metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                now,
                title,
                content,
                category,
                severity,
                tenant_id,
                agent_id,
                active_from,
                expires_at,
                1 if is_archived else 0,
                dump_doc(note_metadata),
            ),
        )


def list_notes(db: Database) -> list[dict[str, Any]]:
    """Every note, archived and expired ones included (operator view)."""
    return [note_entity(r) for r in db.query("SELECT * FROM sdk_notes ORDER BY id")]

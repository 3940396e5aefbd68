"""Authentication, rate limits and key secrecy on the local server (FAULTS.md F43, F51, F40)."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from ashr_labs.server import DB_FILENAME, LocalServer, _admin, _auth
from ashr_labs.server._auth import AUTH_FAILED_MESSAGE
from ashr_labs.server._db import Database
from ashr_labs.server._ratelimit import TokenBucketLimiter
from tests.support.server_rpc import Tenant, new_tenant, post


@pytest.fixture
def t(local_server: Any) -> Tenant:
    return new_tenant(local_server)


# -- F43 -------------------------------------------------------------------------------------------
def _variants(t: Tenant, server: Any) -> dict[str, dict[str, str]]:
    _kid, expired = _admin.create_api_key(server.db, t.tenant_id, expires_at="2000-01-01T00:00:00Z")
    revoked = server.create_api_key(t.tenant_id, name="to-revoke")
    row = server.db.query_one(
        "SELECT id FROM api_keys WHERE name = 'to-revoke' AND tenant_id = ?", (t.tenant_id,)
    )
    _admin.revoke_api_key(server.db, int(row["id"]))
    unknown = "tp_" + "A" * 43
    return {
        "missing": {},
        "basic": {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()},
        "bearer-empty": {"Authorization": "Bearer "},
        "token-scheme": {"Authorization": f"Token {t.key}"},
        "no-tp-prefix": {"Authorization": "Bearer sk-" + "a" * 43},
        "short": {"Authorization": "Bearer tp_abc"},
        "bad-charset": {"Authorization": "Bearer tp_" + "!" * 43},
        "too-long": {"Authorization": f"Bearer {t.key}x"},
        "unknown": {"Authorization": f"Bearer {unknown}"},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "expired": {"Authorization": f"Bearer {expired}"},
    }


def test_f43_every_bad_key_gets_the_same_401(t: Tenant, local_server: Any) -> None:
    """Missing, wrong scheme, malformed, unknown, revoked and expired keys: one 401 message."""
    for name, headers in _variants(t, local_server).items():
        reply = post(t.url, {"function": "keep_alive"}, headers=headers)
        assert reply.status == 401, name
        assert reply.json == {"status": "error", "message": AUTH_FAILED_MESSAGE}, name
    assert post(t.url, {"function": "keep_alive"}, key=t.key).status == 200
    lower = {"authorization": f"bearer {t.key}"}
    assert post(t.url, {"function": "keep_alive"}, headers=lower).status == 200


def test_f43_malformed_keys_never_reach_the_database(
    t: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key of the wrong shape is refused before any database lookup (spy on Database)."""
    calls: list[str] = []
    real_query, real_execute = Database.query, Database.execute

    def spy_query(self: Database, sql: str, params: Any = ()) -> Any:
        calls.append(sql)
        return real_query(self, sql, params)

    def spy_execute(self: Database, sql: str, params: Any = ()) -> Any:
        calls.append(sql)
        return real_execute(self, sql, params)

    monkeypatch.setattr(Database, "query", spy_query)
    monkeypatch.setattr(Database, "execute", spy_execute)
    for bad in ("tp_short", "sk-" + "a" * 43, "tp_" + "$" * 43, "", "tp_" + "a" * 44):
        reply = post(t.url, {"function": "init"}, headers={"Authorization": f"Bearer {bad}"})
        assert reply.status == 401
    assert calls == []
    assert post(t.url, {"function": "keep_alive"}, key=t.key).status == 200
    assert any("api_keys" in sql for sql in calls)


def test_f43_hashes_compared_with_compare_digest(
    t: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored hash is checked with hmac.compare_digest, never ==."""
    seen: list[tuple[str, str]] = []
    real = _auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_auth.hmac, "compare_digest", spy)
    assert post(t.url, {"function": "keep_alive"}, key=t.key).status == 200
    assert (_auth.hash_key(t.key), _auth.hash_key(t.key)) in seen


def test_f43_revocation_effective_on_next_request(t: Tenant, local_server: Any) -> None:
    """A key revoked through the RPC fails on the very next call."""
    key = local_server.create_api_key(t.tenant_id, name="short-lived")
    me = Tenant(t.url, key, t.tenant_id, local_server)
    own = next(k for k in me.ok("list_api_keys")["api_keys"] if k["name"] == "short-lived")
    assert me.ok("revoke_api_key", api_key_id=own["id"])["status"] == "ok"
    assert me.call("keep_alive").status == 401
    assert t.ok("keep_alive")["status"] == "ok"


# -- F51 -------------------------------------------------------------------------------------------
def test_f51_limiter_memory_is_bounded_with_an_injected_clock() -> None:
    """100,000 distinct keys leave at most max_entries buckets; tokens refill with the clock."""
    now = [0.0]
    limiter = TokenBucketLimiter(2.0, 3, max_entries=1000, clock=lambda: now[0])
    for i in range(100_000):
        limiter.acquire(f"key-{i}")
    assert len(limiter) <= 1000
    assert [limiter.acquire("hot") for _ in range(3)] == [None, None, None]
    wait = limiter.acquire("hot")
    assert wait == pytest.approx(0.5)
    assert limiter.retry_after_header(wait) == "1"
    assert limiter.acquire("other") is None
    now[0] += 0.5
    assert limiter.acquire("hot") is None
    assert limiter.acquire("hot") is not None


def test_f51_one_key_over_its_rate_gets_429_others_unaffected(tmp_path: Path) -> None:
    """Over loopback: the hot key gets 429 + Retry-After in the envelope; others still work."""
    with LocalServer(data_dir=tmp_path, rate_per_s=0.01, rate_burst=3) as srv:
        hot = srv.api_key
        cold = srv.create_api_key(name="cold")
        codes = [post(srv.url, {"function": "keep_alive"}, key=hot).status for _ in range(3)]
        assert codes == [200, 200, 200]
        reply = post(srv.url, {"function": "keep_alive"}, key=hot)
        assert reply.status == 429
        assert reply.json["status"] == "error" and "rate limit" in reply.message
        assert int(reply.headers["retry-after"]) >= 1
        assert post(srv.url, {"function": "keep_alive"}, key=cold).status == 200


def test_f51_failed_authentications_limited_per_address(tmp_path: Path) -> None:
    """Guessing keys from one address turns 401 into 429; a valid key is still served."""
    with LocalServer(data_dir=tmp_path, auth_fail_rate_per_s=0.01, auth_fail_burst=5) as srv:
        guesses = [
            post(srv.url, {"function": "init"}, key="tp_" + f"{i:043d}").status for i in range(8)
        ]
        assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}
        assert post(srv.url, {"function": "keep_alive"}, key=srv.api_key).status == 200


# -- F40 -------------------------------------------------------------------------------------------
def _forms(key: str) -> list[str]:
    return [
        key,
        key[3:],
        base64.b64encode(key.encode()).decode(),
        base64.b64encode(f"Bearer {key}".encode()).decode(),
        urllib.parse.quote(key),
        json.dumps(key)[1:-1],
    ]


def test_f40_key_never_in_logs_or_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Through success and every error status at DEBUG, no form of the key reaches logs or DB."""
    with caplog.at_level(logging.DEBUG):
        with LocalServer(data_dir=tmp_path, rate_per_s=0.01, rate_burst=40) as srv:
            key = srv.api_key
            t = Tenant(srv.url, key, srv.default_tenant_id, srv)
            t.ok("init")
            t.ok("create_agent", name="a")
            t.error(409, "create_agent", name="a")
            t.error(404, "get_run", run_id=999)
            t.error(422, "get_run", run_id="x")
            t.error(400, "nope")
            post(srv.url, b"[1]", key=key)
            post(srv.url, {"function": "init"}, key=key + "x")
            other_tid, other_key = srv.create_tenant("other")
            agent_id = t.ok("list_agents")["agents"][0]["id"]
            Tenant(srv.url, other_key, other_tid, srv).error(403, "delete_agent", agent_id=agent_id)
            statuses = [t.call("keep_alive").status for _ in range(40)]
            assert 429 in statuses
            srv.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db_files = [p for p in tmp_path.iterdir() if p.name.startswith(DB_FILENAME)]
            blobs = b"".join(p.read_bytes() for p in db_files)
    assert caplog.records, "the server logged nothing at DEBUG"
    for form in _forms(key):
        assert form not in caplog.text, form
        assert form.encode() not in blobs, form
    assert _auth.hash_key(key).encode() in blobs

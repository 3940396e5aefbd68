"""LocalServer lifecycle, operator helpers and tenant feature flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ashr_labs.server import DB_FILENAME, LocalServer, _rpc
from ashr_labs.server._rpc import RpcSpec
from tests.support.server_rpc import Tenant, new_tenant, post


def test_start_stop_are_idempotent_and_temp_dir_is_removed() -> None:
    """start()/stop() twice are harmless; a server without data_dir cleans its folder up."""
    srv = LocalServer()
    assert srv.start() is srv.start()
    folder = srv.data_dir
    assert (folder / DB_FILENAME).exists()
    assert post(srv.url, {"function": "keep_alive"}, key=srv.api_key).status == 200
    srv.stop()
    srv.stop()
    assert not folder.exists()
    with pytest.raises(RuntimeError, match="not running"):
        _ = srv.url


def test_data_dir_survives_restart_with_a_fresh_session_key(tmp_path: Path) -> None:
    """Rows persist across restarts; each start issues a new key for the default tenant."""
    with LocalServer(data_dir=tmp_path) as srv:
        first_key = srv.api_key
        assert srv.first_start_key == first_key
        Tenant(srv.url, first_key, srv.default_tenant_id, srv).ok("create_agent", name="kept")
    with LocalServer(data_dir=tmp_path) as srv:
        assert srv.first_start_key is None and srv.api_key != first_key
        t = Tenant(srv.url, first_key, srv.default_tenant_id, srv)
        assert [a["name"] for a in t.ok("list_agents")["agents"]] == ["kept"]
    with LocalServer(data_dir=tmp_path, issue_key=False) as srv:
        with pytest.raises(RuntimeError, match="issue_key=False"):
            _ = srv.api_key


def test_unknown_setting_is_named() -> None:
    """A misspelt setting is a TypeError naming it."""
    with pytest.raises(TypeError, match="job_delay"):
        LocalServer(job_delay=1)


def test_feature_flag_off_answers_403(local_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An RPC registered with feature="observability" answers 403 while the tenant flag is off."""

    def probe(ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        return {"seen": ctx.tenant_id}

    monkeypatch.setitem(
        _rpc._RPCS, "probe_feature", RpcSpec("probe_feature", probe, feature="observability")
    )
    on = new_tenant(local_server)
    off = new_tenant(local_server, observability=False)
    assert on.ok("probe_feature")["seen"] == on.tenant_id
    message = off.error(403, "probe_feature")
    assert message == "the observability feature is not enabled for this tenant"
    local_server.set_feature(off.tenant_id, "observability", True)
    assert off.ok("probe_feature")["seen"] == off.tenant_id
    local_server.set_feature(on.tenant_id, "observability", False)
    assert on.call("probe_feature").status == 403


def test_operator_helpers_validate_input(local_server: Any) -> None:
    """add_note and create_api_key refuse bad input with the field named."""
    with pytest.raises(ValueError, match="category"):
        local_server.add_note("t", "c", category="urgent")
    with pytest.raises(ValueError, match="severity"):
        local_server.add_note("t", "c", severity="high")
    with pytest.raises(ValueError, match="tenant_id"):
        local_server.create_api_key(10**9)
    with pytest.raises(ValueError, match="tenant name"):
        local_server.create_tenant("  ")


def test_tls_files_serve_https(tmp_path: Path) -> None:
    """With TLS files the server answers HTTPS and its URL says so."""
    import http.client
    import json
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    with LocalServer(
        data_dir=tmp_path / "data", tls_certfile=str(cert_file), tls_keyfile=str(key_file)
    ) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
        try:
            conn.request(
                "POST",
                "/",
                body=json.dumps({"function": "keep_alive"}),
                headers={"Authorization": f"Bearer {srv.api_key}"},
            )
            reply = conn.getresponse()
            assert reply.status == 200 and json.loads(reply.read())["status"] == "ok"
        finally:
            conn.close()

"""The ``ashr-labs`` CLI (serve, keys, notes) and the bind policy (FAULTS.md F52, F40)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ashr_labs import cli
from ashr_labs.server import LocalServer, check_bind_host
from tests.support.server_rpc import post

KEY_RE = re.compile(r"tp_[A-Za-z0-9_-]{43}")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASHR_LABS_")}


class _Serve:
    """``ashr-labs serve`` in a subprocess; reads stdout lines as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ashr_labs.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().rstrip("\n")

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=15)
        return out, err


@pytest.fixture
def serves() -> Iterator[list[_Serve]]:
    started: list[_Serve] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate(timeout=10)


def test_f52_serve_defaults_to_loopback_and_prints_url_then_key(
    tmp_path: Path, serves: list[_Serve]
) -> None:
    """First line is the 127.0.0.1 URL; a first start prints one working key, a restart none."""
    serve = _Serve("--data-dir", str(tmp_path))
    serves.append(serve)
    url = serve.line()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    rest = serve.line() + "\n" + serve.line()
    keys = KEY_RE.findall(rest)
    assert len(keys) == 1
    assert post(url, {"function": "init"}, key=keys[0]).status == 200
    out, err = serve.stop()
    assert serve.proc.returncode == 0
    assert keys[0] not in err and keys[0] not in out
    for path in tmp_path.iterdir():
        assert keys[0].encode() not in path.read_bytes()

    again = _Serve("--data-dir", str(tmp_path))
    serves.append(again)
    url2 = again.line()
    assert url2.startswith("http://127.0.0.1:")
    assert post(url2, {"function": "init"}, key=keys[0]).status == 200
    out, _err = again.stop()
    assert not KEY_RE.search(out)


def test_python_m_server_is_serve(tmp_path: Path) -> None:
    """``python -m ashr_labs.server`` runs the same command."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ashr_labs.server", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.fixture
def bind_guard(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """socket.bind refuses every non-loopback address, so nothing is ever bound there."""
    attempts: list[Any] = []
    real_bind = socket.socket.bind

    def guarded(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to bind {host!r}")
        real_bind(self, address)

    monkeypatch.setattr(socket.socket, "bind", guarded)
    return attempts


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_f52_non_loopback_host_is_refused(
    host: str, tmp_path: Path, bind_guard: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A public --host without TLS or --allow-public exits non-zero with a clear message."""
    code = cli.main(["serve", "--host", host, "--port", "0", "--data-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"refusing to listen on {host!r}" in err and "--allow-public" in err
    assert bind_guard == []


def test_f52_policy_allows_loopback_and_explicit_opt_in() -> None:
    """Loopback names pass; other hosts only with allow_public or TLS files."""
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        check_bind_host(host, allow_public=False, tls=False)
    check_bind_host("0.0.0.0", allow_public=True, tls=False)
    check_bind_host("0.0.0.0", allow_public=False, tls=True)
    with pytest.raises(ValueError, match="refusing to listen"):
        LocalServer(host="10.0.0.1")


def test_f52_ipv6_loopback_serves(tmp_path: Path) -> None:
    """``::1`` is allowed and the URL brackets it."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 is not configured here")
    with LocalServer(data_dir=tmp_path, host="::1") as srv:
        assert srv.url.startswith("http://[::1]:")
        assert post(srv.url, {"function": "keep_alive"}, key=srv.api_key).status == 200


def test_keys_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """keys create prints the key alone; list shows prefixes; revoke turns it off at once."""
    assert cli.main(["keys", "create", "--data-dir", str(tmp_path), "--name", "ci"]) == 0
    out = capsys.readouterr().out
    assert KEY_RE.fullmatch(out.strip()), out
    key = out.strip()
    with LocalServer(data_dir=tmp_path) as srv:
        assert post(srv.url, {"function": "init"}, key=key).status == 200
        assert cli.main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
        listing = capsys.readouterr().out
        assert key[:11] in listing and key not in listing and "\tci\t" in listing
        # LocalServer's own key was never used: its last_used_at shows as "-", not "None".
        assert "None" not in listing and any(line.endswith("\t-") for line in listing.splitlines())
        key_id = next(line.split("\t")[0] for line in listing.splitlines() if "\tci\t" in line)
        assert cli.main(["keys", "revoke", "--data-dir", str(tmp_path), key_id]) == 0
        assert post(srv.url, {"function": "init"}, key=key).status == 401
    assert cli.main(["keys", "revoke", "--data-dir", str(tmp_path), "9999"]) == 1
    assert "no key with id 9999" in capsys.readouterr().err


def test_notes_commands_and_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """notes add/list use $ASHR_LABS_DATA_DIR; init then serves the new global note."""
    monkeypatch.setenv("ASHR_LABS_DATA_DIR", str(tmp_path))
    assert cli.default_data_dir() == tmp_path
    code = cli.main(
        [
            "notes",
            "add",
            "--title",
            "Upgrade",
            "--content",
            "Use 0.3",
            "--category",
            "deprecation",
            "--severity",
            "warning",
        ]
    )
    assert code == 0
    note_id = int(capsys.readouterr().out.strip())
    assert cli.main(["notes", "list"]) == 0
    assert "deprecation\twarning" in capsys.readouterr().out
    with LocalServer(data_dir=tmp_path) as srv:
        notes = post(srv.url, {"function": "init"}, key=srv.api_key).json["notes"]
        assert [n["id"] for n in notes] == [note_id]
    assert cli.main(["notes", "add", "--title", "x", "--content", "y", "--agent-id", "5"]) == 2
    assert "agent_id: no agent 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["notes", "add", "--title", "x", "--content", "y", "--category", "bogus"])

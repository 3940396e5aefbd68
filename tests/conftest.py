"""Suite-wide fixtures: strict internal errors, a clean environment, a loopback-only network,
and one real local Ashr server for the session (FAULTS.md "Rules for these tests")."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ashr_labs import _safety

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in _LOOPBACK_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NonLoopbackConnection(AssertionError):
    """A test tried to reach an address that is not loopback."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NonLoopbackConnection(f"test tried to connect to {address[0]!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NonLoopbackConnection(f"test tried to connect to {address[0]!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        raise NonLoopbackConnection(f"test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Every socket in the test process connects to loopback only."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def strict_internal_errors() -> Iterator[None]:
    """Internal tracing errors fail the test instead of being logged (STYLE.md §6a)."""
    _safety.set_strict(True)
    yield
    _safety.set_strict(None)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ASHR_LABS_*, OTEL_* or proxy variable leaks in from the machine."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("ASHR_LABS_", "OTEL_")) or upper in {
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
        }:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real local Ashr server on 127.0.0.1:0 with a temporary SQLite database."""
    from ashr_labs.server import LocalServer

    data_dir: Path = tmp_path_factory.mktemp("ashr-server")
    with LocalServer(data_dir=data_dir) as server:
        yield server


@pytest.fixture
def client(local_server: Any) -> Iterator[Any]:
    """An ``AshrLabsClient`` on the session server's default tenant."""
    from ashr_labs import AshrLabsClient

    c = AshrLabsClient(api_key=local_server.api_key, base_url=local_server.url)
    try:
        yield c
    finally:
        c.close()

"""Size and time limits of the local server's HTTP layer (FAULTS.md F45, F54) and raw routes."""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ashr_labs.server import LocalServer, _rpc
from ashr_labs.server._dispatch import envelope_response
from ashr_labs.server._rpc import RawRequest, RawResponse, RouteSpec, RpcError, read_limited_gzip
from tests.support.server_rpc import post, raw_socket

CAP = 64 * 1024


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server with a 64 KiB body cap, a 1 s header deadline and a tiny gzip cap."""
    data_dir = tmp_path_factory.mktemp("limits")
    with LocalServer(
        data_dir=data_dir,
        max_body_bytes=CAP,
        header_timeout_s=1.0,
        max_decompressed_bytes=1024 * 1024,
    ) as srv:
        yield srv


def _read_reply(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _still_serving(srv: LocalServer) -> None:
    assert post(srv.url, {"function": "keep_alive"}, key=srv.api_key).status == 200


# -- F45 -------------------------------------------------------------------------------------------
@pytest.mark.timing
def test_f45_huge_content_length_gets_413_before_the_body(small: LocalServer) -> None:
    """Content-Length: 10^10 and a few bytes: 413 arrives without the server waiting for more."""
    sock = raw_socket(small.url)
    started = time.monotonic()
    with sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + small.api_key.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{"fu'
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"status":"error"' in reply and b"exceeds the limit of 65536 bytes" in reply
    assert time.monotonic() - started < 5
    _still_serving(small)


def test_f45_chunked_body_stops_at_the_cap(small: LocalServer) -> None:
    """A chunked body is counted while reading and refused once it passes the cap."""
    sock = raw_socket(small.url)
    chunk = b"x" * 16384
    with sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer "
            + small.api_key.encode()
            + b"\r\n\r\n"
        )
        for _ in range(5):
            sock.sendall(b"4000\r\n" + chunk + b"\r\n")
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    _still_serving(small)


def test_f45_chunked_body_under_the_cap_is_served(small: LocalServer) -> None:
    """A small chunked request is de-chunked and dispatched normally."""
    body = b'{"function": "keep_alive"}'
    sock = raw_socket(small.url)
    with sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Bearer "
            + small.api_key.encode()
            + b"\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert b'"message":"alive"' in reply


@pytest.mark.timing
def test_f45_gzip_bomb_is_capped() -> None:
    """~1 MB of gzip inflating to 1 GiB stops at the cap with 413, quickly, in bounded memory."""
    bomb = gzip.compress(bytes(8 << 20), 9) * 128
    assert len(bomb) < 2 << 20
    started = time.monotonic()
    with pytest.raises(RpcError) as info:
        read_limited_gzip(bomb, 16 << 20)
    assert info.value.status == 413
    assert time.monotonic() - started < 2.0
    assert read_limited_gzip(gzip.compress(b"ab") + gzip.compress(b"cd"), 10) == b"abcd"
    for bad in (b"not gzip", gzip.compress(b"abc")[:-4]):
        with pytest.raises(RpcError) as info:
            read_limited_gzip(bad, 10)
        assert info.value.status == 400


@pytest.fixture
def echo_route(monkeypatch: pytest.MonkeyPatch) -> list[RawRequest]:
    """A raw route on /test/echo that inflates gzip bodies with the server's cap."""
    seen: list[RawRequest] = []

    def echo(req: RawRequest) -> RawResponse:
        seen.append(req)
        if req.error is not None:
            return RawResponse(
                req.error.status,
                {"Content-Type": "text/plain"},
                f"raw:{req.error.message}".encode(),
            )
        body = req.body
        if req.headers.get("content-encoding") == "gzip":
            assert req.server is not None
            try:
                body = read_limited_gzip(body, req.server.settings.max_decompressed_bytes)
            except RpcError as exc:
                return envelope_response(exc.status, exc.message)
        return RawResponse(
            200, {"Content-Type": "text/plain"}, f"tenant={req.tenant_id} n={len(body)}".encode()
        )

    monkeypatch.setitem(_rpc._ROUTES, ("POST", "/test/echo"), RouteSpec("POST", "/test/echo", echo))
    return seen


def test_raw_route_gets_auth_failures_and_formats_them(
    small: LocalServer, echo_route: list[RawRequest]
) -> None:
    """Raw routes get the auth or size failure in RawRequest.error and answer in their format."""
    reply = post(small.url, b"abc", path="/test/echo")
    assert (reply.status, reply.raw) == (401, b"raw:" + _auth_message().encode())
    assert echo_route[-1].tenant_id is None
    ok = post(small.url, b"abc", key=small.api_key, path="/test/echo")
    assert ok.status == 200 and ok.raw == f"tenant={small.default_tenant_id} n=3".encode()
    assert echo_route[-1].headers["AUTHORIZATION"].startswith("Bearer ")
    assert "tp_" not in repr(echo_route[-1].headers)
    big = post(small.url, b"x" * (CAP + 1), key=small.api_key, path="/test/echo")
    assert big.status == 413 and big.raw.startswith(b"raw:request body exceeds")
    bomb = gzip.compress(bytes(4 << 20), 9)
    reply = post(
        small.url, bomb, key=small.api_key, path="/test/echo", headers={"Content-Encoding": "gzip"}
    )
    assert reply.status == 413 and "decompressed body exceeds" in reply.message
    assert post(small.url, b"", key=small.api_key, path="/test/echo", method="GET").status == 405
    _still_serving(small)


def _auth_message() -> str:
    from ashr_labs.server._auth import AUTH_FAILED_MESSAGE

    return AUTH_FAILED_MESSAGE


# -- F54 -------------------------------------------------------------------------------------------
@pytest.mark.timing
def test_f54_slowloris_sockets_are_closed_and_others_served(small: LocalServer) -> None:
    """50 sockets trickling their headers are cut at the 1 s deadline; a normal call succeeds."""
    socks = [raw_socket(small.url) for _ in range(50)]
    closed_at: dict[int, float] = {}
    stop = threading.Event()
    started = time.monotonic()

    def trickle() -> None:
        header = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        for i in range(len(header)):
            if stop.is_set():
                return
            for n, s in enumerate(socks):
                if n in closed_at:
                    continue
                try:
                    s.send(header[i : i + 1])
                except OSError:
                    closed_at[n] = time.monotonic()
            stop.wait(0.25)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        _still_serving(small)
        for n, s in enumerate(socks):
            s.settimeout(max(0.1, 20 - (time.monotonic() - started)))
            try:
                data = s.recv(1024)
            except OSError:
                data = b""
            closed_at.setdefault(n, time.monotonic())
            assert data == b"", data[:100]
        assert len(closed_at) == 50
        assert max(closed_at.values()) - started < 20
        assert min(closed_at.values()) - started >= 0.9
    finally:
        stop.set()
        thread.join(5)
        for s in socks:
            s.close()
    _still_serving(small)


@pytest.mark.timing
def test_f54_idle_connection_without_a_request_is_closed(tmp_path: Path) -> None:
    """A connection that never sends a request line is closed after the header deadline."""
    with LocalServer(data_dir=tmp_path, header_timeout_s=0.5) as srv:
        sock = raw_socket(srv.url)
        with sock:
            started = time.monotonic()
            assert _read_reply(sock, timeout=5.0) == b""
            assert 0.4 <= time.monotonic() - started < 3.0


def test_f45_expect_100_continue_oversized_is_refused_up_front(small: LocalServer) -> None:
    """With Expect: 100-continue and a body over the cap, 413 comes instead of 100 Continue."""
    sock = raw_socket(small.url)
    with sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 999999999\r\n"
            b"Authorization: Bearer " + small.api_key.encode() + b"\r\n\r\n"
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"100 Continue" not in reply


def test_connections_and_file_descriptors_do_not_leak(tmp_path: Path) -> None:
    """Hundreds of one-shot connections (the published client's habit) reuse SQLite connections."""
    with LocalServer(data_dir=tmp_path) as srv:
        post(srv.url, {"function": "keep_alive"}, key=srv.api_key)
        fds_before = len(os.listdir("/proc/self/fd"))
        for _ in range(300):
            assert post(srv.url, {"function": "list_agents"}, key=srv.api_key).status == 200
        assert len(os.listdir("/proc/self/fd")) - fds_before < 20
        assert len(srv.db._all) < 20

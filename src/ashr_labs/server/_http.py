"""The socket side of the local server: a threading HTTP server feeding ``Dispatcher``.

It reads one request at a time per connection and enforces what must be enforced before a body
is in memory: the header deadline against slowloris (F54, one reaper thread closes sockets whose
request line and headers are late), and the body-size cap by ``Content-Length`` or while
de-chunking (F45). Every answer, errors from the stdlib parser included, is a JSON object.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._log import logger
from ._dispatch import Dispatcher, envelope_response, redact
from ._rpc import Headers, RawResponse, RpcError

__all__ = ["AshrHTTPServer", "make_http_server"]

_log = logger.getChild("server.http")


class _DeadlineReaper:
    """Shuts down sockets whose header deadline passed; one thread for all connections."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self._deadlines: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, name="ashr-server-reaper", daemon=True)
        self._thread.start()

    def arm(self, sock: socket.socket, timeout_s: float) -> None:
        with self._lock:
            self._deadlines[sock] = time.monotonic() + timeout_s

    def disarm(self, sock: socket.socket) -> bool:
        """Cancel the deadline; False when it had already passed (the socket was shut down)."""
        with self._lock:
            return self._deadlines.pop(sock, None) is not None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                late = [s for s, d in self._deadlines.items() if d <= now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class AshrHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with our dispatcher, limits and an IPv6-aware bind."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatcher: Dispatcher,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.dispatcher = dispatcher
        self.settings = dispatcher.state.settings
        self.reaper = _DeadlineReaper()
        super().__init__(address, _Handler)
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.dispatcher.state.db.release()

    def server_close(self) -> None:
        super().server_close()
        self.reaper.stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("connection error from %s", client_address[0] if client_address else "?")


class _Handler(BaseHTTPRequestHandler):
    server: AshrHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "ashr-labs-local"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.settings.body_timeout_s)
        try:  # one small reply per request: don't let Nagle + delayed ACK add 40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def handle_one_request(self) -> None:
        self.server.reaper.arm(self.connection, self.server.settings.header_timeout_s)
        in_time = False
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():  # reads the headers; answers errors itself
                return
        except (OSError, ValueError):
            self.close_connection = True
            return
        finally:
            in_time = self.server.reaper.disarm(self.connection)
        if not in_time:  # headers cut short by the deadline: never act on a partial request
            self.close_connection = True
            return
        try:
            self._serve()
        except (OSError, ValueError):
            self.close_connection = True

    def _serve(self) -> None:
        headers = Headers(list(self.headers.items()))
        body, body_error = self._read_body(headers)
        if body_error is not None:
            self.close_connection = True  # the rest of the body is still on the wire
        response = self.server.dispatcher.handle(
            self.command,
            self.path,
            headers,
            body,
            client_addr=str(self.client_address[0]),
            body_error=body_error,
        )
        self._write(response)
        if body_error is not None:
            self._linger()

    def _linger(self, max_bytes: int = 1 << 20, timeout_s: float = 0.5) -> None:
        """Half-close and drain a little of an unread body so the client can read our answer.

        Closing with unread data makes the kernel send a reset, which can destroy the 413 in
        the client's receive buffer before it reads it.
        """
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(timeout_s)
            deadline = time.monotonic() + timeout_s
            drained = 0
            while drained < max_bytes and time.monotonic() < deadline:
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass

    def _read_body(self, headers: Headers) -> tuple[bytes, RpcError | None]:
        cap = self.server.settings.max_body_bytes
        too_big = _too_big(cap)
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(cap, too_big)
        length_text = headers.get("Content-Length")
        if length_text is None:
            return b"", None
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            self.close_connection = True
            return b"", RpcError(400, "Content-Length: expected a non-negative integer")
        if length > cap:
            return b"", too_big
        return self.rfile.read(length), None

    def _read_chunked(self, cap: int, too_big: RpcError) -> tuple[bytes, RpcError | None]:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return b"", RpcError(400, "malformed chunked body")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body), None
            if len(body) + size > cap:
                return b"", too_big
            body += self.rfile.read(size)
            self.rfile.readline(8)

    def _write(self, response: RawResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write, so the reply leaves in one segment where it fits.
        buffered: list[bytes] = getattr(self, "_headers_buffer", [])
        payload = b"".join(buffered) + b"\r\n"
        self._headers_buffer = []  # type: ignore[var-annotated]
        if self.command != "HEAD":
            payload += response.body
        self.wfile.write(payload)
        self.wfile.flush()

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before inviting the client to send it (F45)."""
        length = self.headers.get("Content-Length", "")
        cap = self.server.settings.max_body_bytes
        if length.strip().isdigit() and int(length) > cap:
            self.close_connection = True
            too_big = _too_big(cap)
            self._write(envelope_response(too_big.status, too_big.message))
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found by the stdlib parser, as our JSON envelope instead of an HTML page."""
        text = message or self.responses.get(code, ("error",))[0]
        self.close_connection = True
        try:
            self._write(envelope_response(code, f"bad request: {text}"))
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s", self.client_address[0], redact(format % args))


def _too_big(cap: int) -> RpcError:
    """The 413 for a body over ``max_body_bytes`` (F45), however it was found out."""
    return RpcError(413, f"request body exceeds the limit of {cap} bytes")


def make_http_server(
    host: str,
    port: int,
    dispatcher: Dispatcher,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> AshrHTTPServer:
    """Bind the server (TLS when ``certfile`` is given)."""
    ctx = None
    if certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
    return AshrHTTPServer((host, port), dispatcher, ssl_context=ctx)

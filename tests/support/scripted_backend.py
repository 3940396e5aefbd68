"""The FAULTS.md "Harness" helpers: a scripted HTTP backend, a blackhole and a closed port.

``ScriptedBackend`` is a ``ThreadingHTTPServer`` on 127.0.0.1:0 that answers each request from a
per-test script of :class:`Step` s (status, headers, body, delay, action) and records what it got
(:class:`Received`: parsed body, headers, peer port, arrival time). Actions:

- ``reply``: send ``status``/``headers``/``body`` (after ``delay`` seconds);
- ``close``: read the request, then close the socket without a reply;
- ``reset``: read the request, then reset the connection (RST);
- ``forward``: pass the request on to ``forward_to`` (e.g. the real local server), then close
  without relaying the reply, so the work is done but the client never hears of it;
- ``proxy``: pass the request on to ``forward_to`` and relay its reply unchanged;
- ``trickle``: send the headers, then the body one byte per ``trickle_interval_s``;
- ``endless``: send headers and a JSON-looking body that never ends (until the client goes away);
- ``hold``: wait until ``event`` is set (``hold_cap_s`` at most), then reply.

The script is a list of steps or a callable ``(Received) -> Step | None``. Steps queued with
:meth:`ScriptedBackend.on` for a function come first, then steps from the list or :meth:`push`,
then the callable; when none answers, the ``default`` step does (``200 {"status": "ok"}``).

Typical use::

    with ScriptedBackend([Step(503, {"Retry-After": "1"}), Step(200, body={"status": "ok"})]) as b:
        Transport("tp_x", b.url).call("keep_alive")
        assert b.count("keep_alive") == 2
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Blackhole", "Received", "ScriptedBackend", "Step", "blackhole", "closed_port"]

_ACTIONS = frozenset({"reply", "close", "reset", "forward", "proxy", "trickle", "endless", "hold"})


@dataclass
class Step:
    """One scripted answer. ``body`` may be bytes, str, or any JSON value (dict/list/...)."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = field(default_factory=lambda: {"status": "ok"})
    delay: float = 0.0
    action: str = "reply"
    forward_to: str | None = None
    event: threading.Event | None = None
    hold_cap_s: float = 30.0
    trickle_interval_s: float = 1.0
    endless_cap_s: float = 30.0

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"action: expected one of {sorted(_ACTIONS)}, got {self.action!r}")
        if self.action in ("forward", "proxy") and not self.forward_to:
            raise ValueError(f"forward_to: required when action={self.action!r}")

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass(frozen=True)
class Received:
    """One request as the backend saw it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # parsed JSON, or None when the body was not JSON
    peer_port: int
    time: float  # time.monotonic() at arrival
    thread: str

    @property
    def function(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("function"), str):
            return str(self.body["function"])
        return None


Script = Iterable[Step] | Callable[[Received], Step | None] | None


class ScriptedBackend:
    """Loopback HTTP backend answering from a script; see the module docstring."""

    def __init__(
        self,
        script: Script = None,
        *,
        default: Step | None = None,
        ssl_context: Any = None,
    ) -> None:
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._responder: Callable[[Received], Step | None] | None = None
        if callable(script):
            self._responder = script
        elif script is not None:
            self._steps.extend(script)
        self._per_function: dict[str, deque[Step]] = {}
        self.default = default or Step()
        self.requests: list[Received] = []
        self._stopping = threading.Event()
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ScriptedBackend:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.backend = self
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ScriptedBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the backend first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def push(self, *steps: Step) -> None:
        """Append steps to the general script."""
        with self._lock:
            self._steps.extend(steps)

    def on(self, function: str, *steps: Step) -> None:
        """Queue steps used (in order) for requests whose ``function`` is ``function``."""
        with self._lock:
            self._per_function.setdefault(function, deque()).extend(steps)

    def _next_step(self, received: Received) -> Step:
        with self._lock:
            self.requests.append(received)
            queue = self._per_function.get(received.function or "")
            if queue:
                return queue.popleft()
            if self._steps:
                return self._steps.popleft()
        if self._responder is not None:
            step = self._responder(received)
            if step is not None:
                return step
        return self.default

    # -- inspection ------------------------------------------------------------------------
    def count(self, function: str | None = None) -> int:
        """Number of requests received (for one ``function`` when given)."""
        with self._lock:
            if function is None:
                return len(self.requests)
            return sum(1 for r in self.requests if r.function == function)

    def bodies(self, function: str | None = None) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests if function is None or r.function == function]

    def wait_for(self, predicate: Callable[[ScriptedBackend], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate(self)`` until true; raise ``TimeoutError`` saying what was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.01)
        raise TimeoutError(
            f"backend condition not met within {timeout}s; saw {self.count()} requests: "
            f"{[r.function for r in self.requests]}"
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    backend: ScriptedBackend

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-reply are expected here (timeouts, caps); stay quiet.
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive replies wait ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        received = Received(
            method=self.command,
            path=self.path,
            headers={k: v for k, v in self.headers.items()},
            raw=raw,
            body=parsed,
            peer_port=int(self.client_address[1]),
            time=time.monotonic(),
            thread=threading.current_thread().name,
        )
        backend = self.server.backend
        step = backend._next_step(received)
        if step.delay:
            backend._stopping.wait(step.delay)
        getattr(self, f"_do_{step.action}")(step, received)

    # -- actions ---------------------------------------------------------------------------
    def _send_head(self, step: Step, length: int | None) -> None:
        self.send_response(step.status)
        names = {k.lower() for k in step.headers}
        for name, value in step.headers.items():
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        if length is not None and "content-length" not in names:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _do_reply(self, step: Step, received: Received) -> None:
        data = step.body_bytes()
        self._send_head(step, len(data))
        self.wfile.write(data)
        self.wfile.flush()

    def _do_close(self, step: Step, received: Received) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _do_reset(self, step: Step, received: Received) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _do_forward(self, step: Step, received: Received) -> None:
        assert step.forward_to is not None
        headers = {k: v for k, v in received.headers.items() if k.lower() != "host"}
        req = urllib.request.Request(
            step.forward_to, data=received.raw, headers=headers, method=received.method
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback only)
                resp.read()
        except Exception:  # the upstream's answer is dropped either way
            pass
        self._do_close(step, received)

    def _do_proxy(self, step: Step, received: Received) -> None:
        assert step.forward_to is not None
        headers = {k: v for k, v in received.headers.items() if k.lower() != "host"}
        req = urllib.request.Request(
            step.forward_to, data=received.raw, headers=headers, method=received.method
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback only)
                status, reply_headers, data = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, reply_headers, data = exc.code, dict(exc.headers), exc.read()
        keep = {
            k: v for k, v in reply_headers.items() if k.lower() in ("content-type", "retry-after")
        }
        self._do_reply(Step(status, keep, data), received)

    def _do_trickle(self, step: Step, received: Received) -> None:
        data = step.body_bytes()
        self._send_head(step, len(data))
        stopping = self.server.backend._stopping
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            if stopping.wait(step.trickle_interval_s):
                return

    def _do_endless(self, step: Step, received: Received) -> None:
        self.close_connection = True
        self._send_head(step, None)
        self.wfile.write(b'{"status": "ok", "padding": "')
        chunk = b"x" * 65536
        stopping = self.server.backend._stopping
        deadline = time.monotonic() + step.endless_cap_s
        while time.monotonic() < deadline and not stopping.is_set():
            self.wfile.write(chunk)  # raises once the client has gone away
            self.wfile.flush()

    def _do_hold(self, step: Step, received: Received) -> None:
        assert step.event is not None, "hold needs an event"
        step.event.wait(step.hold_cap_s)
        self._do_reply(step, received)


def closed_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Blackhole:
    """A listener that accepts connections and never answers.

    ``opened`` and ``closed`` record ``time.monotonic()`` when each connection was accepted and
    when the client closed it (seen as EOF), in that order.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.opened: list[float] = []
        self.closed: list[float] = []
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Blackhole:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def _run(self) -> None:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(0.05):
                if key.fileobj is self._sock:
                    try:
                        conn, _addr = self._sock.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    with self._lock:
                        self.opened.append(time.monotonic())
                        self._conns.append(conn)
                    sel.register(conn, selectors.EVENT_READ)
                else:
                    conn = key.fileobj  # type: ignore[assignment]
                    try:
                        data = conn.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(conn)
                        conn.close()
                        with self._lock:
                            self.closed.append(time.monotonic())
        sel.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except OSError:
                    pass
        self._sock.close()

    def __enter__(self) -> Blackhole:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def blackhole() -> Blackhole:
    """A started :class:`Blackhole`; use it as a context manager to stop it."""
    return Blackhole().start()

"""The local Ashr server: the hosted protocol on SQLite, for tests, the quick start and laptops.

``LocalServer`` runs it in-process (``with LocalServer() as srv: ...srv.url, srv.api_key``);
``ashr-labs serve`` / ``python -m ashr_labs.server`` run it from a shell. Stdlib only.

Binding (FAULTS.md F52): loopback by default (``127.0.0.1`` or ``::1``). Any other host is
refused unless ``allow_public=True`` (CLI ``--allow-public``; put a TLS-terminating proxy in
front) or TLS files are given (``tls_certfile``/``tls_keyfile``). Authentication is never off.

Media: there is no object store here, so ``include_signed_urls`` is accepted and no signed media
URLs are added to datasets.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .._settings import ASHR_LABS_API_KEY, ASHR_LABS_BASE_URL
from . import _admin
from ._db import Database
from ._dispatch import Dispatcher, base_prefix
from ._http import AshrHTTPServer, make_http_server
from ._jobs import JobRunner
from ._rpc import Headers, RawResponse
from ._state import ServerSettings, ServerState, settings_from_kwargs

__all__ = [
    "DB_FILENAME",
    "LocalServer",
    "ServerSettings",
    "check_bind_host",
    "env_or_local_server",
]

DB_FILENAME = "ashr.db"
"""The SQLite file inside a server data directory."""
JOBS_LOCK_FILENAME = "jobs.lock"
"""Lock file: the one server process holding it runs generation and grading jobs."""


def check_bind_host(host: str, *, allow_public: bool, tls: bool) -> None:
    """Refuse a non-loopback bind unless TLS files or the behind-a-proxy flag are given (F52)."""
    name = host.strip("[]")
    if name == "localhost":
        return
    try:
        if ipaddress.ip_address(name).is_loopback:
            return
    except ValueError:
        pass
    if allow_public or tls:
        return
    raise ValueError(
        f"refusing to listen on {host!r}: the local server binds loopback (127.0.0.1 or ::1) "
        "only. To expose it, put a TLS-terminating proxy in front and pass --allow-public "
        "(allow_public=True), or give TLS files (--tls-cert/--tls-key)."
    )


_T = TypeVar("_T")


def _running(part: _T | None) -> _T:
    """A part that exists only while the server runs (HTTP server, database, state, jobs)."""
    if part is None:
        raise RuntimeError("the server is not running; call start() first")
    return part


class LocalServer:
    """The whole server in this process on ``host:port`` (port 0 picks a free one).

    ``data_dir=None`` uses a temporary directory removed on ``stop()``. ``api_key`` is a key of
    the default tenant made by this instance (a restarted data dir gets a fresh one, since only
    hashes are stored; ``issue_key=False`` skips that, as ``ashr-labs serve`` does). Other
    keyword arguments are ``ServerSettings`` fields, e.g.
    ``job_delay_s=0.0`` or ``header_timeout_s=1.0``.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        base_path: str = "",
        clock: Callable[[], float] | None = None,
        issue_key: bool = True,
        **settings: Any,
    ) -> None:
        self.settings: ServerSettings = settings_from_kwargs(settings)
        check_bind_host(
            host, allow_public=self.settings.allow_public, tls=bool(self.settings.tls_certfile)
        )
        self._requested_dir = None if data_dir is None else Path(data_dir)
        self.host = host
        self._port = port
        self.base_path = base_path
        self._clock = clock or time.monotonic
        self._issue_key = issue_key
        self._lock = threading.Lock()
        self._started = False
        self._tmpdir: str | None = None
        self._db: Database | None = None
        self._state: ServerState | None = None
        self._httpd: AshrHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._jobs: JobRunner | None = None
        self._api_key: str | None = None
        self.first_start_key: str | None = None
        """The key printed on a data dir's first start (set only when this start created it)."""

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> LocalServer:
        """Open the database, bind, start serving and the job workers. Idempotent."""
        with self._lock:
            if self._started:
                return self
            from . import _handlers  # noqa: F401 - registers every RPC and route

            data_dir = self._requested_dir
            if data_dir is None:
                self._tmpdir = tempfile.mkdtemp(prefix="ashr-labs-server-")
                data_dir = Path(self._tmpdir)
            data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir = data_dir
            db = Database(data_dir / DB_FILENAME, busy_timeout_ms=self.settings.busy_timeout_ms)
            try:
                self._bootstrap(db)
                state = ServerState(db=db, settings=self.settings, clock=self._clock)
                dispatcher = Dispatcher(state, base_path=self.base_path)
                httpd = make_http_server(
                    self.host,
                    self._port,
                    dispatcher,
                    certfile=self.settings.tls_certfile,
                    keyfile=self.settings.tls_keyfile,
                )
            except BaseException:
                db.close()
                self._remove_tmpdir()
                raise
            self._db, self._state, self._httpd = db, state, httpd
            self.dispatcher = dispatcher
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="ashr-server-http",
                daemon=True,
            )
            self._thread.start()
            self._jobs = JobRunner(state, lock_path=data_dir / JOBS_LOCK_FILENAME)
            if self.settings.run_jobs:
                self._jobs.start()
            self._started = True
            return self

    def stop(self) -> None:
        """Stop serving, stop the workers, close the database. Idempotent."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            if self._httpd is not None:
                self._httpd.shutdown()
                self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            if self._jobs is not None:
                self._jobs.stop()
            if self._db is not None:
                self._db.close()
            self._httpd = self._thread = self._jobs = None
            self._remove_tmpdir()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _bootstrap(self, db: Database) -> None:
        tenant_id, created = _admin.ensure_default_tenant(db)
        if created:
            _kid, key = _admin.create_api_key(db, tenant_id, name="first-start")
            self.first_start_key = key
            self._api_key = key
        elif self._issue_key:
            _kid, self._api_key = _admin.create_api_key(db, tenant_id, name="local-server")

    # -- what tests and the CLI read ---------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        return int(_running(self._httpd).server_address[1])

    @property
    def url(self) -> str:
        """Base URL for clients, ``http://HOST:PORT`` (``https`` with TLS files)."""
        scheme = "https" if self.settings.tls_certfile else "http"
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{base_prefix(self.base_path)}"

    @property
    def api_key(self) -> str:
        """A key of the default tenant, made by this instance."""
        if self._api_key is None:
            raise RuntimeError(
                "no key: the server is not running or was started with issue_key=False"
            )
        return self._api_key

    @property
    def db(self) -> Database:
        """The server's database (for tests and operator actions)."""
        return _running(self._db)

    @property
    def state(self) -> ServerState:
        """Shared state (settings, limiters, job wake-up)."""
        return _running(self._state)

    @property
    def default_tenant_id(self) -> int:
        """The default tenant's id."""
        tenant_id = _admin.default_tenant(self.db)
        assert tenant_id is not None  # bootstrap created it
        return tenant_id

    # -- operator actions --------------------------------------------------------------------------
    def create_tenant(
        self, name: str, *, features: dict[str, bool] | None = None
    ) -> tuple[int, str]:
        """A new tenant with one user; returns ``(tenant_id, api_key)``."""
        tenant_id, _user = _admin.create_tenant(self.db, name, features=features)
        _kid, key = _admin.create_api_key(self.db, tenant_id)
        return tenant_id, key

    def create_api_key(self, tenant_id: int | None = None, name: str = "default") -> str:
        """A new key for a tenant (default tenant when None)."""
        tid = self.default_tenant_id if tenant_id is None else tenant_id
        _kid, key = _admin.create_api_key(self.db, tid, name=name)
        return key

    def add_note(self, title: str, content: str, **fields: Any) -> int:
        """Add an SDK note (global when neither tenant nor agent is given); returns its id.

        Keyword fields are ``_admin.add_note``'s: ``category``, ``severity``, ``tenant_id``,
        ``agent_id``, ``active_from``, ``expires_at``, ``is_archived``, ``note_metadata``.
        """
        return _admin.add_note(self.db, title, content, **fields)

    def set_feature(self, tenant_id: int, name: str, on: bool) -> None:
        """Turn a tenant feature flag on or off (``observability`` is on by default)."""
        _admin.set_feature(self.db, tenant_id, name, on)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no generation or grading job is queued or running."""
        jobs = _running(self._jobs)
        if not self.settings.run_jobs:
            return  # nothing will ever run: there is nothing to wait for
        jobs.wait_idle(timeout)

    def handle(
        self,
        body: bytes,
        *,
        api_key: str | None = None,
        method: str = "POST",
        path: str = "/",
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        """Run one request through the full pipeline in-process (no socket); for tests."""
        hdrs = dict(headers or {})
        if api_key is not None:
            hdrs.setdefault("Authorization", f"Bearer {api_key}")
        return self.dispatcher.handle(method, path, Headers(hdrs), body)


@contextmanager
def env_or_local_server() -> Iterator[tuple[str, str]]:
    """``(base_url, api_key)`` of the server to use: ``ASHR_LABS_BASE_URL`` and
    ``ASHR_LABS_API_KEY`` when both are set, else a throwaway ``LocalServer`` for the block.

    Lets one script run against a server you started (or the hosted API) and stand alone too.
    """
    base_url = os.environ.get(ASHR_LABS_BASE_URL)
    api_key = os.environ.get(ASHR_LABS_API_KEY)
    if base_url and api_key:
        yield base_url, api_key
        return
    with LocalServer() as server:
        yield server.url, server.api_key

"""SQLite access for the local server: one connection per thread, WAL, busy timeout, schemas.

Every module that owns tables calls ``register_schema(sql)`` at import time; ``Database`` applies
all registered statements (each written ``CREATE ... IF NOT EXISTS``) when it opens, so the order
of imports never matters and reopening an existing file is harmless. SQL is only ever written with
``?`` placeholders (FAULTS.md F48). A write that still finds the database locked after the busy
timeout becomes ``DatabaseBusyError``, which the dispatcher answers with 503 + Retry-After (F50).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "Database",
    "DatabaseBusyError",
    "register_schema",
    "registered_schemas",
]

_MAX_IDLE = 16
"""Idle connections kept for reuse; more concurrent threads open (and later close) their own."""

_SCHEMAS: list[str] = []
_SCHEMA_LOCK = threading.Lock()


def register_schema(sql: str) -> None:
    """Add DDL (one or more ``CREATE ... IF NOT EXISTS`` statements) applied at every open.

    Registering the same text twice is a no-op, so modules may be re-imported safely.
    """
    with _SCHEMA_LOCK:
        if sql not in _SCHEMAS:
            _SCHEMAS.append(sql)


def registered_schemas() -> list[str]:
    """The DDL registered so far, in registration order."""
    with _SCHEMA_LOCK:
        return list(_SCHEMAS)


class DatabaseBusyError(Exception):
    """The database stayed locked past the busy timeout; the caller should retry later."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "database is busy" in text


class Database:
    """A SQLite file shared by the server's threads, one connection per thread.

    ``transaction()`` is re-entrant on a thread: the outermost block owns BEGIN/COMMIT/ROLLBACK
    and inner blocks join it, so the dispatcher can wrap a whole RPC call in one transaction
    (a failed call stores nothing) while handlers still write ``with db.transaction():``.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self.apply_schemas()

    # -- connections -----------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection: taken from the idle pool, or opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._all_lock:
                if self._closed:
                    raise RuntimeError("database is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._open()
            self._local.conn = conn
            self._local.depth = 0
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000.0,  # sets SQLite's busy_timeout
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def release(self) -> None:
        """Return this thread's connection to the idle pool; threads that finish call this.

        The HTTP server runs each connection on a new thread, so without it every request
        would leave an open SQLite connection (and its file descriptors) behind.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        self._local.depth = 0
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        with self._all_lock:
            if not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def close(self) -> None:
        """Close every connection. Idempotent."""
        with self._all_lock:
            self._closed = True
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def apply_schemas(self) -> None:
        """Create every registered table and index that does not exist yet."""
        conn = self.connection()
        for sql in registered_schemas():
            self._run(lambda sql=sql: conn.executescript(sql))

    # -- statements ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement with placeholders; busy past the timeout raises DatabaseBusyError."""
        conn = self.connection()
        cur: sqlite3.Cursor = self._run(lambda: conn.execute(sql, tuple(params)))
        return cur

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of a SELECT."""
        return list(self.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a SELECT, or None."""
        row: sqlite3.Row | None = self.execute(sql, params).fetchone()
        return row

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT and return the new rowid."""
        cur = self.execute(sql, params)
        rowid = cur.lastrowid
        if rowid is None:  # pragma: no cover - sqlite always sets it for INSERT
            raise RuntimeError("INSERT did not produce a rowid")
        return int(rowid)

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN (IMMEDIATE by default, so writers queue on the busy timeout) ... COMMIT.

        Re-entrant: a nested block joins the outer transaction. An exception rolls back.
        """
        conn = self.connection()
        depth: int = self._local.depth
        if depth > 0:
            self._local.depth = depth + 1
            try:
                yield conn
            finally:
                self._local.depth = depth
            return
        self._run(lambda: conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN"))
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            self._local.depth = 0
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._local.depth = 0
        try:
            self._run(lambda: conn.execute("COMMIT"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _run(fn: Any) -> Any:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise DatabaseBusyError(str(exc)) from exc
            raise

"""The lazy session: the tenant id, user id and notes that ``init`` returns, fetched once.

Thread-safe (FAULTS.md F56): however many threads make their first tenant-scoped call at once,
exactly one ``init`` goes on the wire. A reply without ``tenant.id`` or ``user.id`` raises a typed
error naming the key and is not cached, so the next call tries again instead of sending
``"tenant_id": null`` as the published client does (protocol.md §3.1).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ._errors import AshrLabsError

if TYPE_CHECKING:
    from ._http import Transport
    from ._types import SdkNote

__all__ = ["LazySession"]


class LazySession:
    """Cache of the session ids and notes, filled by the first call that needs them."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._loaded = False
        self._tenant_id: int = 0
        self._user_id: int = 0
        self._notes: list[SdkNote] = []

    @property
    def loaded(self) -> bool:
        return self._loaded

    def ensure(self) -> None:
        """Send ``init`` unless the session is cached; concurrent callers share one request."""
        if self._loaded:
            return
        if self._pid != os.getpid():
            # Forked while another thread may have held the lock: the child gets a fresh one.
            self._lock = threading.Lock()
            self._pid = os.getpid()
        with self._lock:
            if not self._loaded:
                self.store(self._transport.call("init"))

    def store(self, reply: dict[str, Any]) -> None:
        """Cache an ``init`` reply, or raise naming the missing key (and cache nothing)."""
        tenant_id = _required_id(reply, "tenant")
        user_id = _required_id(reply, "user")
        notes = reply.get("notes")
        self._tenant_id = tenant_id
        self._user_id = user_id
        self._notes = list(notes) if isinstance(notes, list) else []
        self._loaded = True

    def tenant_id(self, explicit: int | None = None) -> int:
        """``explicit`` when given, else the session's tenant id (sending ``init`` if needed)."""
        if explicit is not None:
            return explicit
        self.ensure()
        return self._tenant_id

    def user_id(self, explicit: int | None = None) -> int:
        """``explicit`` when given, else the session's user id (sending ``init`` if needed)."""
        if explicit is not None:
            return explicit
        self.ensure()
        return self._user_id

    @property
    def notes(self) -> list[SdkNote]:
        """The cached notes; ``[]`` when nothing was fetched yet. Never does I/O."""
        return list(self._notes)

    def set_notes(self, notes: list[SdkNote]) -> None:
        self._notes = list(notes)


def _required_id(reply: dict[str, Any], key: str) -> int:
    section = reply.get(key)
    if not isinstance(section, dict) or "id" not in section:
        raise AshrLabsError(
            f"Malformed init reply: missing '{key}.id' (the session was not cached)",
            None,
            reply,
        )
    value = section["id"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise AshrLabsError(
            f"Malformed init reply: '{key}.id' should be an int, got {value!r}", None, reply
        )
    return value

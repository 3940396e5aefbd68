"""``AshrLabsClient``: one object for both products, over one transport and one lazy session.

The constructor validates everything up front (FAULTS.md F19) and contacts nobody; the first
call that needs a tenant or user id sends ``init`` once (F56). Testing Platform methods come from
``TestingPlatformMethods``, trace queries and tracing from ``ObservabilityMethods``; this module
adds the session and utility methods of the API reference, ``from_env``, and the lifecycle.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

from ._errors import ConfigurationError
from ._http import Transport, check_positive_number
from ._log import logger
from ._session import LazySession
from ._settings import ASHR_LABS_API_KEY, ASHR_LABS_BASE_URL, DEFAULT_BASE_URL
from ._types import SdkNote, Session
from .observability._client_methods import ObservabilityMethods
from .observability._options import TracingOptions
from .testing._api import TestingPlatformMethods

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from typing_extensions import Unpack

__all__ = ["AshrLabsClient"]

_IMPLAUSIBLE_TIMEOUT_S = 600
_TRACING_FIELDS = frozenset(f.name for f in dataclasses.fields(TracingOptions))


class TracingKwargs(TypedDict, total=False):
    """``TracingOptions`` fields accepted as keyword arguments by ``AshrLabsClient``."""

    enabled: bool | None
    capture_content: bool | None
    mask: Callable[[Any], Any] | None
    tracer_provider: TracerProvider | None
    flush_timeout_s: float
    export_timeout_s: float
    max_queue_size: int
    max_export_batch_size: int
    schedule_delay_ms: int
    max_open_traces: int
    max_spans_per_trace: int
    max_trace_bytes: int
    max_trace_age_s: float
    max_value_bytes: int


def _check_api_key(api_key: object) -> str:
    if not isinstance(api_key, str) or not api_key.startswith("tp_") or len(api_key) <= 3:
        kind = type(api_key).__name__ if not isinstance(api_key, str) else "str"
        raise ConfigurationError(
            f"api_key: expected a non-empty str starting with 'tp_', got a {kind} that does not"
        )
    return api_key


class AshrLabsClient(TestingPlatformMethods, ObservabilityMethods):
    """The main client class for interacting with the Ashr Labs API.

    Args:
        api_key: your API key (must start with ``tp_``).
        base_url: base URL of the API; ``http://`` is allowed only to loopback unless
            ``allow_insecure``.
        timeout: overall deadline of one call in seconds, retries included.
        max_retries: retries of connection failures, 429, 502, 503 and 504.
        ca_bundle: CA bundle for verifying the server (else ``ASHR_LABS_CA_BUNDLE``, else the
            system store).
        allow_insecure: allow sending the key over plain ``http://`` to a non-loopback host.
        tracing: tracing settings; ``**tracing_kwargs`` (any ``TracingOptions`` field, e.g.
            ``capture_content=False``) override single fields.

    Raises:
        ValueError: (``ConfigurationError``) the API key format or another argument is invalid.

    The client is thread-safe. ``copy.deepcopy`` returns the same client (agents holding one can
    be copied by ``EvalRunner``); pickling is refused, as it would carry the key.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: int | float = 30,
        *,
        max_retries: int = 3,
        ca_bundle: str | None = None,
        allow_insecure: bool = False,
        tracing: TracingOptions | None = None,
        **tracing_kwargs: Unpack[TracingKwargs],
    ) -> None:
        unknown = sorted(set(tracing_kwargs) - _TRACING_FIELDS)
        if unknown:
            raise TypeError(
                f"AshrLabsClient.__init__() got an unexpected keyword argument {unknown[0]!r}"
            )
        if tracing is not None and not isinstance(tracing, TracingOptions):
            raise ConfigurationError(f"tracing: expected a TracingOptions, got {tracing!r}")
        key = _check_api_key(api_key)
        seconds = check_positive_number("timeout", timeout)
        if seconds > _IMPLAUSIBLE_TIMEOUT_S:
            logger.warning(
                "AshrLabsClient timeout=%s: timeout is in seconds (not milliseconds); "
                "each call may now wait up to %.0f minutes",
                timeout,
                seconds / 60,
            )
        self._timeout = timeout
        self._tracing_options = dataclasses.replace(tracing or TracingOptions(), **tracing_kwargs)
        self._transport = Transport(
            key,
            base_url,
            seconds,
            max_retries=max_retries,
            ca_bundle=ca_bundle,
            allow_insecure=allow_insecure,
        )
        self._session = LazySession(self._transport)
        self._closed = False

    @classmethod
    def from_env(cls, timeout: int = 30) -> AshrLabsClient:
        """Create a client from ``ASHR_LABS_API_KEY`` (required) and ``ASHR_LABS_BASE_URL``.

        Raises:
            RuntimeError: if ``ASHR_LABS_API_KEY`` is not set.
        """
        api_key = os.environ.get(ASHR_LABS_API_KEY)
        if not api_key:
            raise RuntimeError(
                f"{ASHR_LABS_API_KEY} is not set; export your key (tp_...) or pass api_key="
            )
        base_url = os.environ.get(ASHR_LABS_BASE_URL) or DEFAULT_BASE_URL
        try:
            return cls(api_key=api_key, base_url=base_url, timeout=timeout)
        except ConfigurationError as exc:
            if str(exc).startswith("base_url:"):
                raise ConfigurationError(
                    f"{ASHR_LABS_BASE_URL}{str(exc)[len('base_url') :]}"
                ) from exc
            raise

    # -- properties -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API base URL, trailing slashes stripped."""
        return self._transport.base_url

    @property
    def timeout(self) -> int | float:
        """The overall deadline of one call, in seconds."""
        return self._timeout

    # -- session and utility --------------------------------------------------------------------
    def init(self) -> Session:
        """Initialize a session and validate authentication; also fills the session cache.

        Raises:
            AuthenticationError: If the API key is invalid or expired.
        """
        reply = self._transport.call("init")
        self._session.store(reply)
        return reply  # type: ignore[return-value]

    @property
    def notes(self) -> list[SdkNote]:
        """Cached SDK notes from the last ``init()``, lazy session or ``get_notes()`` call.

        No network request is made: before the session was initialised this is ``[]``. Call
        ``init()`` or ``get_notes()`` to fetch them.
        """
        return self._session.notes

    def get_notes(self, agent_id: int | None = None) -> list[SdkNote]:
        """Fetch fresh SDK notes (global, tenant and, with ``agent_id``, that agent's).

        Replaces the cached ``client.notes``.
        """
        params: dict[str, Any] = {}
        if agent_id is not None:
            if isinstance(agent_id, bool) or not isinstance(agent_id, int):
                raise ConfigurationError(f"agent_id: expected an int, got {agent_id!r}")
            params["agent_id"] = agent_id
        reply = self._transport.call("get_sdk_notes", params)
        notes = reply.get("notes", [])
        if not isinstance(notes, list):
            notes = []
        self._session.set_notes(notes)
        return list(notes)

    def health_check(self) -> dict[str, Any]:
        """Check that the API is reachable; returns the server's status object."""
        return self._transport.call("keep_alive")

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and stop tracing (bounded by ``flush_timeout_s``), then close connections.

        Idempotent; later calls raise ``TransportError``.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._shutdown_tracing(self._tracing_options.flush_timeout_s)
        finally:
            self._transport.close()

    def __enter__(self) -> AshrLabsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AshrLabsClient(base_url={self.base_url!r}, api_key={self._transport.key_hint!r})"

    def __copy__(self) -> AshrLabsClient:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> AshrLabsClient:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("AshrLabsClient cannot be pickled (it holds an API key and connections)")

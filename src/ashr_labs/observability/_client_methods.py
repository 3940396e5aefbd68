"""The Observability product's client methods: trace queries (and, from task H5, tracing).

``ObservabilityMethods`` is a mixin of ``AshrLabsClient``. It relies on two attributes the client
sets up:

- ``self._transport`` (``ashr_labs._http.Transport``): sends one RPC, typed errors on failure;
- ``self._tracing_options`` (``TracingOptions``): the client's tracing settings.

The query RPCs send no tenant id: the server takes the tenant from the API key. They need the
tenant's ``observability`` feature flag; without it the server answers 403
(``AuthorizationError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ._tracing_methods import TracingMethods

if TYPE_CHECKING:
    from .._http import Transport
    from ._options import TracingOptions

__all__ = ["ObservabilityMethods"]


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name}: expected an int, got {value!r}")
    return value


def _opt_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name}: expected a str, got {value!r}")
    return value


class ObservabilityMethods(TracingMethods):
    """Observability methods of ``AshrLabsClient`` (see the module docstring)."""

    _transport: Transport
    _tracing_options: TracingOptions

    def list_observability_traces(
        self,
        user_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        page: int = 1,
    ) -> dict[str, Any]:
        """List traces for the current tenant: ``{"status", "traces", "total"}``, newest first.

        ``limit`` is at most 100 (the server checks); pages start at 1.
        """
        params: dict[str, Any] = {"limit": _int("limit", limit), "page": _int("page", page)}
        if user_id is not None:
            params["user_id"] = _opt_str("user_id", user_id)
        if session_id is not None:
            params["session_id"] = _opt_str("session_id", session_id)
        return self._transport.call("list_observability_traces", params)

    def get_observability_trace(self, trace_id: str) -> dict[str, Any]:
        """Get one trace with its full observation tree: ``{"status", "trace"}``."""
        if not isinstance(trace_id, str) or not trace_id:
            raise ConfigurationError(f"trace_id: expected a non-empty str, got {trace_id!r}")
        return self._transport.call("get_observability_trace", {"trace_id": trace_id})

    def get_observability_analytics(self, days: int = 7) -> dict[str, Any]:
        """Analytics overview: ``{"status", "overview", "tool_performance", "model_usage"}``."""
        return self._transport.call("get_observability_analytics", {"days": _int("days", days)})

    def get_observability_errors(
        self, days: int = 7, limit: int = 50, page: int = 1
    ) -> dict[str, Any]:
        """Traces with errors, most recent first: ``{"status", "traces", "total"}``."""
        return self._error_page("get_observability_errors", days, limit, page)

    def get_observability_tool_errors(
        self, days: int = 7, limit: int = 50, page: int = 1
    ) -> dict[str, Any]:
        """Traces with tool failures, most recent first: ``{"status", "traces", "total"}``."""
        return self._error_page("get_observability_tool_errors", days, limit, page)

    def _error_page(self, function: str, days: int, limit: int, page: int) -> dict[str, Any]:
        return self._transport.call(
            function,
            {"days": _int("days", days), "limit": _int("limit", limit), "page": _int("page", page)},
        )

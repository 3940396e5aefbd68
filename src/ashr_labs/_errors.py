"""The error tree: everything the SDK raises on purpose derives from ``AshrLabsError``.

Class names, constructor and ``str()`` follow the API reference and protocol.md §1.4, so code
written against the published client keeps catching what it caught. Subclasses that also derive
from a builtin (``ValueError``, ``TimeoutError``) keep documented ``except`` clauses working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AshrLabsError",
    "AuthenticationError",
    "AuthorizationError",
    "ConfigurationError",
    "NotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "WaitTimeoutError",
]


class AshrLabsError(Exception):
    """Base class; ``str(e)`` is ``"[<status_code>] <message>"``, or the message alone."""

    def __init__(
        self, message: str, status_code: int | None = None, response: Any | None = None
    ) -> None:
        super().__init__(message, status_code, response)
        self.message = message
        self.status_code = status_code
        self.response = response

    def __str__(self) -> str:
        if self.status_code:
            return f"[{self.status_code}] {self.message}"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.status_code, self.response), self.__dict__)


class AuthenticationError(AshrLabsError):
    """HTTP 401: the API key is missing, malformed, unknown, revoked or expired."""


class AuthorizationError(AshrLabsError):
    """HTTP 403: the key's tenant may not touch this object, or a feature flag is off."""


class NotFoundError(AshrLabsError):
    """HTTP 404: no object with that id."""


class ValidationError(AshrLabsError):
    """HTTP 422: a parameter was missing, of the wrong type or out of range."""


class RateLimitError(AshrLabsError):
    """HTTP 429; ``retry_after`` holds the server's ``Retry-After`` in seconds, when given."""

    retry_after: float | None = None


class ServerError(AshrLabsError):
    """HTTP 5xx."""


class TransportError(AshrLabsError):
    """The request never got a usable HTTP answer: refused, reset, TLS failure, body too large."""


class RequestTimeoutError(TransportError):
    """The call's overall deadline passed before a complete answer arrived."""


class ConfigurationError(AshrLabsError, ValueError):
    """A bad argument or setting, raised at construction time and never later."""


class WaitTimeoutError(AshrLabsError, TimeoutError):
    """``wait_for_request`` / ``poll_run`` ran out of time."""

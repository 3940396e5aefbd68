"""The only HTTP layer: one POST endpoint, the ``function`` envelope, status → typed error.

``Transport.call`` speaks protocol.md §1 exactly on the wire and closes the published client's
holes (DESIGN.md §2): a pooled ``requests.Session`` (re-created after ``fork``), retries with
full-jitter backoff and ``Retry-After`` on connection errors, 429, 502, 503 and 504, all inside
one overall deadline that also bounds slow or endless bodies; no redirects; a capped body read;
every failure an ``AshrLabsError`` subclass raised ``from`` its cause; the API key never in a
``repr``, a log line or an error message. The RPC client and the trace exporter share it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import threading
import time
import weakref
import zlib
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from ._errors import (
    AshrLabsError,
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    ValidationError,
)
from ._log import logger
from ._retry import RETRYABLE_STATUSES, Deadline, backoff_delay, is_read_only, parse_retry_after
from ._settings import ASHR_LABS_ALLOW_INSECURE, ASHR_LABS_CA_BUNDLE, env_flag
from ._version import __version__

__all__ = [
    "Transport",
    "UnserializableParameterError",
    "check_base_url",
    "check_positive_number",
    "redact_secrets",
]

_QUOTE_LIMIT = 200
_READ_CHUNK = 64 * 1024
_STATUS_ERRORS: dict[int, type[AshrLabsError]] = {
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}
_SECRET_PATTERNS = (
    re.compile(r"(?i)bearer\s+[^\s\"',;]+"),
    re.compile(r"tp_[A-Za-z0-9_\-]+"),
)
_LOOPBACK_HOSTS = frozenset({"localhost", "ip6-localhost"})


class UnserializableParameterError(ConfigurationError, TypeError):
    """An RPC parameter holds a value strict JSON cannot carry; raised before anything is sent.

    It is a ``TypeError`` too, as the published client's encoder error was.
    """


# --- small checks shared with the client --------------------------------------------------


def check_positive_number(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ``ConfigurationError`` naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: object, *, allow_insecure: bool = False) -> str:
    """Validate a base URL without resolving or contacting it; return it without trailing ``/``.

    Plain ``http://`` is refused for any host that is not loopback unless ``allow_insecure``,
    because the API key would cross the network in clear (FAULTS.md F38).
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(
            f"base_url: expected an http(s) URL such as 'https://host/path', got {base_url!r}"
        )
    url = base_url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"base_url: malformed URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base_url: expected an absolute http:// or https:// URL with a host, got {url!r}"
        )
    if parts.username or parts.password:
        raise ConfigurationError("base_url: credentials in the URL are not allowed; use api_key")
    if parts.fragment or parts.query:
        raise ConfigurationError(f"base_url: expected no query or fragment, got {url!r}")
    if port == 0:
        raise ConfigurationError(f"base_url: port 0 is not a valid destination, got {url!r}")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"base_url: refusing to send the API key over plain http to {parts.hostname!r}; "
            "use https://, or pass allow_insecure=True (or set "
            f"{ASHR_LABS_ALLOW_INSECURE}=1) if you really mean it"
        )
    return url


def redact_secrets(text: str, api_key: str | None = None) -> str:
    """Remove the API key, any ``tp_...`` key and any ``Bearer ...`` token from ``text``."""
    if api_key:
        text = text.replace(api_key, "[REDACTED]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[REDACTED]", text)
    return text


# --- request encoding -----------------------------------------------------------------------


def _find_unencodable(value: Any, path: str, depth: int = 0) -> str | None:
    """Describe the first value under ``path`` that strict JSON cannot carry, or ``None``."""
    if depth > 500:
        return f"{path}: expected a JSON value, got a structure nested deeper than 500 levels"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{path}: expected a finite number (strict JSON has no NaN/Infinity), got {value!r}"
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float, bool))):
                return f"{path}: expected string keys, got a key of type {type(key).__name__}"
            found = _find_unencodable(item, f"{path}.{key}", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _find_unencodable(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
        return None
    return f"{path}: expected a JSON value, got an object of type {type(value).__name__}"


def encode_request(
    function: str, params: Mapping[str, Any] | None, idempotency_key: str | None
) -> bytes:
    """Build the envelope ``{"function": ..., **params}`` as strict JSON bytes."""
    if not isinstance(function, str) or not function:
        raise ConfigurationError(f"function: expected a non-empty str, got {function!r}")
    if params is not None and not isinstance(params, Mapping):
        raise ConfigurationError(f"params: expected a mapping of parameters, got {params!r:.100}")
    body: dict[str, Any] = {"function": function}
    for name, value in (params or {}).items():
        if name in ("function", "idempotency_key"):
            raise ConfigurationError(f"params: {name!r} is reserved by the envelope")
        body[name] = value
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    try:
        return json.dumps(body, allow_nan=False).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        for name, value in body.items():
            problem = _find_unencodable(value, name)
            if problem:
                raise UnserializableParameterError(problem) from exc
        raise UnserializableParameterError(f"params: not JSON-serialisable: {exc}") from exc


# --- response interpretation ------------------------------------------------------------------


def _reason(status: int, given: str | None) -> str:
    if given:
        return given
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _parse_json(data: bytes) -> tuple[bool, Any]:
    if not data.strip():
        return False, None
    try:
        return True, json.loads(data)
    except (ValueError, RecursionError):
        return False, None


class _Retry(Exception):
    """Internal: an attempt failed in a way that may be retried."""

    def __init__(
        self, error: AshrLabsError, *, retry_after: float | None = None, sent: bool = True
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.sent = sent


class _BearerAuth(requests.auth.AuthBase):
    """Sets ``Authorization: Bearer <key>``; also keeps netrc from replacing it."""

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth [REDACTED]>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("the API key holder cannot be pickled")


def _key_hint(api_key: str) -> str:
    return f"{api_key[:5]}…" if len(api_key) > 12 else "tp_…"


_instances: weakref.WeakSet[Transport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_instances):
        transport._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Transport:
    """POST ``{"function": ..., **params}`` to ``base_url`` and return the JSON object reply.

    Thread-safe: one pooled session per process, created under a lock; a forked child gets its
    own (FAULTS.md F13). ``timeout`` is the default overall deadline of one ``call``, every retry
    and every byte of the reply included.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout: float = 30,
        *,
        max_retries: int = 3,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 8.0,
        ca_bundle: str | None = None,
        allow_insecure: bool = False,
        max_response_bytes: int = 8 * 2**20,
        user_agent: str | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ConfigurationError("api_key: expected a non-empty str starting with 'tp_'")
        insecure = allow_insecure or env_flag(os.environ.get(ASHR_LABS_ALLOW_INSECURE), False)
        self.base_url = check_base_url(base_url, allow_insecure=insecure)
        self.timeout = check_positive_number("timeout", timeout)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries: expected an int >= 0, got {max_retries!r}")
        self.max_retries = max_retries
        self.backoff_base_s = check_positive_number("backoff_base_s", backoff_base_s)
        self.backoff_max_s = check_positive_number("backoff_max_s", backoff_max_s)
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1024
        ):
            raise ConfigurationError(
                f"max_response_bytes: expected an int >= 1024, got {max_response_bytes!r}"
            )
        self.max_response_bytes = max_response_bytes
        bundle: str | None = ca_bundle
        source = "ca_bundle"
        if bundle is None:  # an empty variable is unset, as for every other ASHR_LABS_* setting
            bundle, source = os.environ.get(ASHR_LABS_CA_BUNDLE) or None, ASHR_LABS_CA_BUNDLE
        if bundle is not None and not os.path.exists(bundle):
            raise ConfigurationError(f"{source}: no such file or directory: {bundle!r}")
        self._verify: bool | str = bundle if bundle else True
        self._api_key = api_key
        self._api_key_bytes = api_key.encode("utf-8", errors="replace")
        self._auth = _BearerAuth(api_key)
        agent = (
            f"ashr-labs-python/{__version__} python/{platform.python_version()} "
            f"requests/{getattr(requests, '__version__', 'unknown')}"
        )
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": f"{agent} {user_agent}" if user_agent else agent,
        }
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._pid = os.getpid()
        self._closed = False
        _instances.add(self)

    # -- lifecycle ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, api_key={self.key_hint!r})"

    @property
    def key_hint(self) -> str:
        """A few leading characters of the key, safe to show (never the key itself)."""
        return _key_hint(self._api_key)

    def __reduce__(self) -> NoReturn:
        raise TypeError("Transport cannot be pickled (it holds an API key and sockets)")

    def close(self) -> None:
        """Close pooled connections; later calls raise ``TransportError``. Idempotent."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        if session is not None:
            session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _forget_connections(self) -> None:
        # In a forked child: the parent's sockets and lock are not ours; drop them unclosed.
        self._lock = threading.Lock()
        self._session = None
        self._pid = os.getpid()

    def _get_session(self) -> requests.Session:
        if self._pid != os.getpid():
            self._forget_connections()
        session = self._session
        if session is not None:
            return session
        with self._lock:
            if self._closed:
                raise TransportError("Transport is closed")
            if self._session is None:
                session = requests.Session()
                # The environment's proxies are read once here, not on every call.
                session.trust_env = False
                session.proxies = requests.utils.get_environ_proxies(self.base_url)
                adapter = requests.adapters.HTTPAdapter(
                    pool_connections=1, pool_maxsize=32, max_retries=0
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                # Close the pool when the transport is collected unclosed: no stray sockets.
                weakref.finalize(self, session.close)
                self._session = session
            return self._session

    # -- the call -----------------------------------------------------------------------------
    def call(
        self,
        function: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        deadline_s: float | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Send one RPC and return the reply object.

        Retries (when ``retry``) connection failures, 429, 502, 503 and 504 within the deadline
        (``deadline_s``, default ``timeout``). A failure after the request may have reached the
        server is resent only for read-only functions or when ``idempotency_key`` is given.

        Raises:
            AshrLabsError: a subclass per protocol.md §1.4 for HTTP errors; ``TransportError``
                for network failures and unusable bodies; ``RequestTimeoutError`` at the deadline;
                ``UnserializableParameterError`` before sending when a parameter is not JSON.
        """
        if self._closed:
            raise TransportError("Transport is closed")
        body = encode_request(function, params, idempotency_key)
        budget = (
            self.timeout if deadline_s is None else check_positive_number("deadline_s", deadline_s)
        )
        deadline = Deadline.after(budget)
        resend_safe = idempotency_key is not None or is_read_only(function)
        attempt = 0
        while True:
            try:
                return self._attempt(function, body, deadline, attempt)
            except _Retry as failure:
                error = failure.error
                wait = failure.retry_after
                if wait is None:
                    wait = backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s)
                give_up = (
                    not retry
                    or attempt >= self.max_retries
                    or (failure.sent and not resend_safe)
                    or not deadline.allows(wait)
                )
                if give_up:
                    raise error from error.__cause__
                logger.debug(
                    "rpc %s: %s; retrying in %.0f ms", function, type(error).__name__, wait * 1000
                )
                time.sleep(wait)
                attempt += 1

    def _attempt(
        self, function: str, body: bytes, deadline: Deadline, attempt: int
    ) -> dict[str, Any]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise RequestTimeoutError("Request timed out")
        session = self._get_session()
        started = time.monotonic()
        try:
            # Prepared directly and sent with trust_env off: requests' per-call environment
            # merge (proxies, netrc, CA variables) cost more than the round trip on loopback.
            request = requests.PreparedRequest()
            request.prepare(
                method="POST",
                url=self.base_url,
                headers=self._headers,
                data=body,
                auth=self._auth,
            )
            response = session.send(
                request,
                timeout=(remaining, remaining),
                allow_redirects=False,
                stream=True,
                verify=self._verify,
                proxies=session.proxies,
            )
        except requests.exceptions.RequestException as exc:
            self._raise_for_exception(exc, deadline)
        try:
            status = response.status_code
            reason = _reason(status, response.reason)
            if status in (204, 304) or 300 <= status < 400:
                # HTTP gives these no body; one sent anyway would poison a pooled connection.
                _discard_connection(response)
            if 300 <= status < 400:
                raise self._redirect_error(status, reason, response.headers.get("Location"))
            data = self._read_body(response, deadline, status)
        finally:
            response.close()
        logger.debug(
            "rpc %s -> %d in %.1f ms (attempt %d)",
            function,
            status,
            (time.monotonic() - started) * 1000,
            attempt + 1,
        )
        return self._interpret(status, reason, response.headers, data)

    # -- failure mapping (the one place requests/urllib3 errors become ours) -------------------
    def _raise_for_exception(self, exc: BaseException, deadline: Deadline) -> NoReturn:
        if isinstance(exc, requests.exceptions.SSLError):
            raise TransportError(f"TLS error: {self._describe(exc)}") from exc
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            if deadline.expired():
                raise RequestTimeoutError("Request timed out") from exc
            error = TransportError("Network error: connection timed out")
            error.__cause__ = exc
            raise _Retry(error, sent=False)
        if isinstance(exc, requests.exceptions.Timeout):
            raise RequestTimeoutError("Request timed out") from exc
        if isinstance(exc, requests.exceptions.ConnectionError):
            error = TransportError(f"Network error: {self._describe(exc)}")
            error.__cause__ = exc
            raise _Retry(error, sent=not _never_sent(exc))
        raise TransportError(f"Network error: {self._describe(exc)}") from exc

    def _describe(self, exc: BaseException) -> str:
        seen: set[int] = set()
        current: BaseException | None = exc
        text = str(exc)
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if isinstance(current, OSError) and current.errno and current.strerror:
                text = f"[Errno {current.errno}] {current.strerror}"
                break
            if isinstance(current, ConnectionError | TimeoutError) or "Remote end closed" in str(
                current
            ):
                text = str(current) or type(current).__name__
            nxt = getattr(current, "reason", None)
            if not isinstance(nxt, BaseException):
                nxt = next((a for a in current.args if isinstance(a, BaseException)), None)
            current = nxt or current.__cause__ or current.__context__
        return redact_secrets(text, self._api_key)[:300]

    def _redirect_error(self, status: int, reason: str, location: str | None) -> AshrLabsError:
        if location:
            target = urlsplit(urljoin(self.base_url + "/", location))
            where = f"{target.scheme}://{target.netloc}" if target.netloc else "an unknown origin"
            detail = f"redirect to {where} not followed"
        else:
            detail = "redirect without a Location header not followed"
        return AshrLabsError(f"HTTP Error {status}: {reason} ({detail})", status, None)

    def _read_body(self, response: requests.Response, deadline: Deadline, status: int) -> bytes:
        cap = self.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise TransportError(
                f"Response body too large: {declared} bytes declared (limit {cap})", status
            )
        raw = response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        buffer = bytearray()
        try:
            while True:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise RequestTimeoutError("Request timed out")
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = raw.read1(_READ_CHUNK, decode_content=False)
                if not chunk:
                    break
                buffer += chunk
                if len(buffer) > cap:
                    raise TransportError(
                        f"Response body too large: more than {cap} bytes (limit {cap})", status
                    )
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise RequestTimeoutError("Request timed out") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = TransportError(f"Network error: reply cut off: {self._describe(exc)}", status)
            error.__cause__ = exc
            raise _Retry(error, sent=True) from exc
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            return self._inflate(bytes(buffer), status)
        return bytes(buffer)

    def _inflate(self, data: bytes, status: int) -> bytes:
        cap = self.max_response_bytes
        try:
            inflater = zlib.decompressobj(wbits=47)
            out = inflater.decompress(data, cap + 1)
        except zlib.error as exc:
            raise TransportError(f"Malformed compressed response: {exc}", status) from exc
        if len(out) > cap:
            raise TransportError(f"Response body too large once decompressed (limit {cap})", status)
        return out

    def _quote(self, data: bytes) -> str:
        text = data.decode("utf-8", errors="replace")
        text = redact_secrets(text, self._api_key)
        if len(text) > _QUOTE_LIMIT:
            text = text[:_QUOTE_LIMIT] + "…"
        return repr(text)

    def _interpret(
        self, status: int, reason: str, headers: Mapping[str, str], data: bytes
    ) -> dict[str, Any]:
        if self._api_key_bytes in data:
            data = data.replace(self._api_key_bytes, b"[REDACTED]")
        is_json, parsed = _parse_json(data)
        if status >= 400:
            raise self._http_error(status, reason, headers, data, is_json, parsed)
        if not is_json:
            what = (
                "an empty body"
                if not data.strip()
                else f"a body that is not JSON: {self._quote(data)}"
            )
            raise AshrLabsError(
                f"Malformed response (HTTP {status}): expected a JSON object, got {what}", status
            )
        if not isinstance(parsed, dict):
            raise AshrLabsError(
                f"Malformed response (HTTP {status}): expected a JSON object, got "
                f"{type(parsed).__name__}: {self._quote(data)}",
                status,
            )
        if parsed.get("status") == "error":
            message = parsed.get("message")
            text = str(message) if message is not None else "Unknown error"
            raise AshrLabsError(redact_secrets(text, self._api_key), 400, parsed)
        return parsed

    def _http_error(
        self,
        status: int,
        reason: str,
        headers: Mapping[str, str],
        data: bytes,
        is_json: bool,
        parsed: Any,
    ) -> Exception:
        message = parsed.get("message") if isinstance(parsed, dict) else None
        if isinstance(message, str) and message:
            text = message
        else:
            text = f"HTTP Error {status}: {reason}"
            if not is_json and data.strip():
                text += f"; body: {self._quote(data)}"
        cls = _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else AshrLabsError)
        error = cls(redact_secrets(text, self._api_key), status, parsed if is_json else None)
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if isinstance(error, RateLimitError):
            error.retry_after = retry_after
        if status in RETRYABLE_STATUSES:
            # 429 and 503 say "not processed, come back"; a 502/504 gateway may have passed the
            # call on, so those count as "sent" for the resend-safety rule.
            return _Retry(error, retry_after=retry_after, sent=status in (502, 504))
        return error


def _discard_connection(response: requests.Response) -> None:
    """Close the socket under ``response`` so the pool never reuses it."""
    connection = getattr(response.raw, "connection", None)
    if connection is not None:
        connection.close()


def _never_sent(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request left this process."""
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(
        reason,
        urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError,
    )

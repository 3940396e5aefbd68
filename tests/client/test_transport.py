"""Transport.call against the scripted backend: envelope, status mapping, retries, deadlines,
caps, redirects and malformed replies (FAULTS.md F08, F12, F37, F39, F41, F42)."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator

import pytest

from ashr_labs import (
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
from ashr_labs._http import Transport, UnserializableParameterError
from tests.support.scripted_backend import ScriptedBackend, Step, blackhole, closed_port

KEY = "tp_transport_canary_3f9a1c7e5b"


def slack(budget: float) -> float:
    return budget * 1.5 + 0.5


@pytest.fixture
def backend() -> Iterator[ScriptedBackend]:
    with ScriptedBackend() as b:
        yield b


@pytest.fixture
def transport(backend: ScriptedBackend) -> Iterator[Transport]:
    t = Transport(KEY, backend.url, 5, backoff_base_s=0.01, backoff_max_s=0.05)
    yield t
    t.close()


def test_envelope_headers_and_exact_url(backend: ScriptedBackend, transport: Transport) -> None:
    """A call POSTs the function envelope to exactly the base URL with Bearer auth and our UA."""
    backend.push(Step(body={"status": "ok", "run": {"id": 1}}))
    assert transport.call("get_run", {"run_id": 7}) == {"status": "ok", "run": {"id": 1}}
    (req,) = backend.requests
    assert (req.method, req.path) == ("POST", "/")
    assert req.body == {"function": "get_run", "run_id": 7}
    assert list(req.body)[0] == "function"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"].startswith("ashr-labs-python/")


def test_base_url_path_is_used_verbatim_and_trailing_slashes_stripped(
    backend: ScriptedBackend,
) -> None:
    """The request line carries the base URL's path and nothing appended."""
    t = Transport(KEY, backend.url + "/testing-platform-api///")
    assert t.base_url == backend.url + "/testing-platform-api"
    t.call("keep_alive")
    assert backend.requests[0].path == "/testing-platform-api"
    assert backend.requests[0].body == {"function": "keep_alive"}
    t.close()


def test_idempotency_key_is_sent_only_when_given(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """The idempotency key rides in the body only when the caller passes one."""
    transport.call("create_run", {"dataset_id": 1}, idempotency_key="abc")
    transport.call("create_run", {"dataset_id": 1})
    assert backend.bodies()[0]["idempotency_key"] == "abc"
    assert "idempotency_key" not in backend.bodies()[1]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, AshrLabsError),
        (401, AuthenticationError),
        (403, AuthorizationError),
        (404, NotFoundError),
        (405, AshrLabsError),
        (409, AshrLabsError),
        (413, AshrLabsError),
        (418, AshrLabsError),
        (422, ValidationError),
        (500, ServerError),
        (501, ServerError),
    ],
)
def test_status_maps_to_exception_and_is_not_retried(
    backend: ScriptedBackend, transport: Transport, status: int, cls: type[AshrLabsError]
) -> None:
    """Each status gives protocol §1.4's class, code, message and parsed body, in one request."""
    body = {"status": "error", "message": f"nope {status}"}
    backend.push(Step(status, body=body))
    with pytest.raises(cls) as info:
        transport.call("create_run", {"dataset_id": 1}, idempotency_key="k")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.message == f"nope {status}"
    assert info.value.response == body
    assert str(info.value) == f"[{status}] nope {status}"
    assert backend.count() == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_status_gives_typed_error_after_retries(
    backend: ScriptedBackend, status: int
) -> None:
    """429/502/503/504 are retried max_retries times, then raise the typed error."""
    backend.default = Step(status, body={"status": "error", "message": "busy"})
    t = Transport(KEY, backend.url, 5, max_retries=2, backoff_base_s=0.01, backoff_max_s=0.02)
    with pytest.raises(RateLimitError if status == 429 else ServerError) as info:
        t.call("get_run", {"run_id": 1})
    assert info.value.status_code == status
    assert backend.count("get_run") == 3
    t.close()


def test_missing_message_and_list_body_use_generic_text(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """Without a ``message`` the text is ``HTTP Error <code>: <reason>`` and the body is kept."""
    backend.push(Step(404, body={"error": "nope"}), Step(403, body=[1, 2]))
    with pytest.raises(NotFoundError) as info:
        transport.call("get_run", {"run_id": 1})
    assert info.value.message == "HTTP Error 404: Not Found"
    assert info.value.response == {"error": "nope"}
    with pytest.raises(AuthorizationError) as info2:
        transport.call("get_run", {"run_id": 1})
    assert info2.value.message == "HTTP Error 403: Forbidden"
    assert info2.value.response == [1, 2]


def test_200_with_status_error_raises_base_class_with_400(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """``"status": "error"`` in a 200 is the base error with a synthetic 400; ``ERROR`` is not."""
    backend.push(
        Step(body={"status": "error", "message": "bad"}),
        Step(body={"status": "error"}),
        Step(body={"status": "ERROR", "x": 1}),
    )
    with pytest.raises(AshrLabsError) as info:
        transport.call("get_run", {"run_id": 1})
    assert type(info.value) is AshrLabsError
    assert (info.value.status_code, info.value.message) == (400, "bad")
    assert info.value.response == {"status": "error", "message": "bad"}
    with pytest.raises(AshrLabsError, match="Unknown error"):
        transport.call("get_run", {"run_id": 1})
    assert transport.call("get_run", {"run_id": 1}) == {"status": "ERROR", "x": 1}


# --- F08 / F37: retries, Retry-After, one deadline ---------------------------------------------


@pytest.mark.timing
def test_f08_retry_after_seconds_is_honoured(backend: ScriptedBackend) -> None:
    """[503 RA, 429 RA, 200]: three requests, each gap at least the Retry-After."""
    backend.push(
        Step(503, {"Retry-After": "0.5"}, body={"status": "error", "message": "x"}),
        Step(429, {"Retry-After": "0.5"}, body={"status": "error", "message": "x"}),
        Step(200, body={"status": "ok", "trace_id": "t"}),
    )
    t = Transport(KEY, backend.url, 5)
    assert t.call("ingest_observability_trace", {"trace": {}}, idempotency_key="t")["trace_id"]
    times = [r.time for r in backend.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.45
    t.close()


@pytest.mark.timing
def test_f08_retry_after_http_date_and_malformed(backend: ScriptedBackend) -> None:
    """An HTTP-date Retry-After is waited for; a malformed one falls back to backoff."""
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    backend.push(
        Step(503, {"Retry-After": when}, body={"status": "error", "message": "x"}),
        Step(503, {"Retry-After": "soon-ish"}, body={"status": "error", "message": "x"}),
        Step(200),
    )
    t = Transport(KEY, backend.url, 6, backoff_base_s=0.01, backoff_max_s=0.02)
    t.call("keep_alive")
    times = [r.time for r in backend.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.9  # the date has one-second resolution
    assert times[2] - times[1] < 0.5
    t.close()


@pytest.mark.timing
def test_f37_retry_after_beyond_deadline_fails_at_once(backend: ScriptedBackend) -> None:
    """Retry-After 100 with a 2 s deadline: one request, RateLimitError at once."""
    backend.push(Step(429, {"Retry-After": "100"}, body={"status": "error", "message": "slow"}))
    t = Transport(KEY, backend.url, 30)
    start = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        t.call("create_run", {"dataset_id": 1}, idempotency_key="k", deadline_s=2)
    assert time.monotonic() - start < 1.0
    assert info.value.retry_after == 100
    assert backend.count() == 1
    t.close()


def test_f37_reset_before_reply_is_retried_for_keyed_and_read_only_calls(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """A reset after sending is resent when an idempotency key or a read-only function allows."""
    backend.push(Step(action="reset"), Step(action="close"), Step(body={"status": "ok", "run": {}}))
    assert transport.call("create_run", {"dataset_id": 1}, idempotency_key="k")["run"] == {}
    assert [b["idempotency_key"] for b in backend.bodies()] == ["k", "k", "k"]
    backend.push(Step(action="reset"), Step(body={"status": "ok", "runs": []}))
    assert transport.call("list_runs", {"tenant_id": 1})["runs"] == []


@pytest.mark.parametrize("action", ["reset", "close"])
def test_f37_reset_after_sending_is_not_resent_without_key(
    backend: ScriptedBackend, transport: Transport, action: str
) -> None:
    """A mutating call without an idempotency key is not resent after a lost reply."""
    backend.push(Step(action=action))
    with pytest.raises(TransportError, match="Network error"):
        transport.call("delete_run", {"run_id": 1})
    assert backend.count() == 1
    backend.push(Step(502, body={"status": "error", "message": "gw"}))
    with pytest.raises(ServerError):
        transport.call("delete_run", {"run_id": 1})
    assert backend.count() == 2


def test_f37_connection_refused_is_retried_then_typed() -> None:
    """A refused connection is retried within the deadline, then ``Network error: ...``."""
    t = Transport(KEY, f"http://127.0.0.1:{closed_port()}", 2, backoff_base_s=0.01)
    with pytest.raises(TransportError, match=r"Network error: .*Connection refused") as info:
        t.call("create_run", {"dataset_id": 1})  # never sent, so safe to retry even unkeyed
    assert info.value.__cause__ is not None
    t.close()


def test_retry_false_sends_once(backend: ScriptedBackend, transport: Transport) -> None:
    """``retry=False`` makes exactly one attempt."""
    backend.default = Step(503, body={"status": "error", "message": "x"})
    with pytest.raises(ServerError):
        transport.call("keep_alive", retry=False)
    assert backend.count() == 1


# --- F12 / F41: caps and deadlines ---------------------------------------------------------------


def test_f12_endless_body_stops_at_the_cap(backend: ScriptedBackend) -> None:
    """An endless body ends in a TransportError at the cap, within the deadline, one request."""
    backend.push(Step(action="endless"))
    t = Transport(KEY, backend.url, 5, max_response_bytes=256 * 1024)
    start = time.monotonic()
    with pytest.raises(TransportError, match="too large"):
        t.call("get_dataset", {"dataset_id": 1})
    assert time.monotonic() - start < slack(5)
    assert backend.count() == 1
    assert t.call("keep_alive") == {"status": "ok"}  # still usable
    t.close()


def test_f12_declared_length_over_cap_is_refused_unread(backend: ScriptedBackend) -> None:
    """A Content-Length beyond the cap fails at once, without reading the body."""
    backend.push(Step(headers={"Content-Length": str(100 * 2**20)}, action="trickle", body=b"{"))
    t = Transport(KEY, backend.url, 5, max_response_bytes=4096)
    start = time.monotonic()
    with pytest.raises(TransportError, match="too large"):
        t.call("get_dataset", {"dataset_id": 1})
    assert time.monotonic() - start < 1
    assert backend.count() == 1
    t.close()


@pytest.mark.timing
def test_f41_blackhole_fails_by_the_deadline() -> None:
    """A server that accepts and never answers gives ``Request timed out`` at the deadline."""
    with blackhole() as hole:
        t = Transport(KEY, hole.url, 30)
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="Request timed out"):
            t.call("keep_alive", deadline_s=1)
        elapsed = time.monotonic() - start
        assert 0.9 <= elapsed < slack(1)
        t.close()


@pytest.mark.timing
def test_f41_trickling_body_fails_by_the_deadline(backend: ScriptedBackend) -> None:
    """A body trickling a byte every 0.2 s cannot stretch a 1 s deadline."""
    backend.push(
        Step(action="trickle", trickle_interval_s=0.2, body={"status": "ok", "p": "x" * 50})
    )
    t = Transport(KEY, backend.url, 30)
    start = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        t.call("keep_alive", deadline_s=1)
    assert time.monotonic() - start < slack(1)
    t.close()


@pytest.mark.timing
def test_f41_slow_reply_within_the_deadline_succeeds(backend: ScriptedBackend) -> None:
    """A reply slower than nothing but inside the deadline is returned."""
    backend.push(Step(delay=0.3, body={"status": "ok", "slow": True}))
    t = Transport(KEY, backend.url, 2)
    assert t.call("keep_alive")["slow"] is True
    t.close()


# --- F39: redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_f39_redirect_is_not_followed(status: int) -> None:
    """A redirect to another origin is an error naming it; the target receives nothing."""
    with ScriptedBackend() as target, ScriptedBackend() as origin:
        origin.push(Step(status, {"Location": target.url + "/steal"}, body=b""))
        t = Transport(KEY, origin.url)
        with pytest.raises(AshrLabsError) as info:
            t.call("create_run", {"dataset_id": 1}, idempotency_key="k")
        assert info.value.status_code == status
        assert f"127.0.0.1:{target.port}" in info.value.message
        assert info.value.response is None
        assert origin.count() == 1 and target.count() == 0
        t.close()


# --- F42: malformed replies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "cls", "status", "needle"),
    [
        (
            Step(502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"),
            ServerError,
            502,
            "<html>Bad Gateway</html>",
        ),
        (Step(200, body=b""), AshrLabsError, 200, "empty body"),
        (Step(204, body=b""), AshrLabsError, 204, "empty body"),
        (Step(200, body=b"<html>ok</html>"), AshrLabsError, 200, "not JSON"),
        (Step(200, body=[1, 2]), AshrLabsError, 200, "got list"),
        (Step(200, body="null"), AshrLabsError, 200, "got NoneType"),
        (Step(200, body=b"\xff\xfe{"), AshrLabsError, 200, "not JSON"),
        (Step(action="close"), TransportError, None, "Network error"),
    ],
)
def test_f42_malformed_reply_is_typed_and_client_stays_usable(
    backend: ScriptedBackend, step: Step, cls: type[AshrLabsError], status: int | None, needle: str
) -> None:
    """Each malformed reply is a typed error with the status kept; a later call works."""
    backend.push(step)
    t = Transport(KEY, backend.url, 5, max_retries=0)
    with pytest.raises(cls) as info:
        t.call("get_run", {"run_id": 1})
    assert isinstance(info.value, AshrLabsError)
    assert info.value.status_code == status
    assert needle in info.value.message
    backend.push(Step(body={"status": "ok", "run": {"id": 1}}))
    assert t.call("get_run", {"run_id": 1})["run"] == {"id": 1}
    t.close()


def test_f42_quoted_body_is_short_and_has_no_secrets(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """A quoted body is cut to 200 characters and loses keys and bearer tokens."""
    page = f"<html>{KEY} Bearer abc.def tp_otherkey123 " + "y" * 1000 + "</html>"
    backend.push(Step(500, {"Content-Type": "text/html"}, page))
    with pytest.raises(ServerError) as info:
        transport.call("get_run", {"run_id": 1})
    text = str(info.value)
    assert KEY not in text and "tp_otherkey123" not in text and "abc.def" not in text
    assert len(info.value.message) < 300


def test_unserializable_param_is_named_and_nothing_is_sent(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """A value strict JSON cannot carry raises before sending, naming its path."""
    with pytest.raises(UnserializableParameterError, match=r"result\.tests\[1\]") as info:
        transport.call("create_run", {"result": {"tests": [1, object()]}})
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, TypeError)
    with pytest.raises(UnserializableParameterError, match="result.score"):
        transport.call("create_run", {"result": {"score": float("nan")}})
    assert backend.count() == 0


def test_concurrent_calls_share_one_transport(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """Eight threads calling at once all get their answers."""
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(transport.call("keep_alive"))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert not errors
    assert len(results) == 40
    assert len({r.peer_port for r in backend.requests}) <= 32  # pooled, not one per call


def test_connections_are_reused(backend: ScriptedBackend, transport: Transport) -> None:
    """Sequential calls reuse one pooled connection."""
    for _ in range(5):
        transport.call("keep_alive")
    assert len({r.peer_port for r in backend.requests}) == 1


def test_closed_transport_refuses_calls(backend: ScriptedBackend) -> None:
    """After close() a call raises TransportError; close() is idempotent."""
    t = Transport(KEY, backend.url)
    t.close()
    t.close()
    with pytest.raises(TransportError, match="closed"):
        t.call("keep_alive")
    assert backend.count() == 0


def test_error_message_echoing_the_key_is_redacted(
    backend: ScriptedBackend, transport: Transport
) -> None:
    """A server message that echoes the key never carries it into the exception."""
    backend.push(Step(401, body={"status": "error", "message": f"bad key {KEY}"}))
    with pytest.raises(AuthenticationError) as info:
        transport.call("init")
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in json.dumps(info.value.response)


def test_f42_dns_failure_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that does not resolve gives ``TransportError("Network error: ...")``."""
    import socket

    def no_such_host(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    t = Transport(KEY, "http://no-such-host.invalid", 2, allow_insecure=True, backoff_base_s=0.01)
    with pytest.raises(TransportError, match="Network error: .*Name or service not known") as info:
        t.call("keep_alive")
    assert info.value.status_code is None
    assert info.value.__cause__ is not None
    t.close()

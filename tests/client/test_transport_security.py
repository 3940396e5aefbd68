"""TLS and plain-http rules (F38), the key kept out of every output (F40), and a forked child
getting its own connections (F13, as seen by the transport)."""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import select
import socket
import ssl
import time
import traceback
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from ashr_labs import (
    AshrLabsClient,
    AshrLabsError,
    ConfigurationError,
    TransportError,
)
from ashr_labs._http import Transport
from tests.support.scripted_backend import ScriptedBackend, Step, closed_port

CANARY = "tp_canaryKEY_7Hq2Zx9Lm4Pw"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_backend(ca: trustme.CA) -> Iterator[ScriptedBackend]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    with ScriptedBackend(ssl_context=server_ctx) as b:
        yield b


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# --- F38 -----------------------------------------------------------------------------------------


def test_f38_self_signed_https_fails_by_default(tls_backend: ScriptedBackend) -> None:
    """TLS is verified by default: an unknown CA is a typed TLS error, and nothing is retried."""
    t = Transport(CANARY, tls_backend.url, 5, backoff_base_s=0.01)
    with pytest.raises(TransportError, match="TLS error") as info:
        t.call("keep_alive")
    assert isinstance(info.value.__cause__, Exception)
    assert tls_backend.count() == 0
    t.close()


def test_f38_ca_bundle_argument_makes_it_work(tls_backend: ScriptedBackend, ca_file: str) -> None:
    """The ca_bundle argument trusts the throwaway CA."""
    with AshrLabsClient(CANARY, tls_backend.url, ca_bundle=ca_file) as client:
        assert client.health_check() == {"status": "ok"}
    assert tls_backend.count("keep_alive") == 1


def test_f38_ca_bundle_env_makes_it_work(
    tls_backend: ScriptedBackend, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASHR_LABS_CA_BUNDLE does the same as the argument."""
    monkeypatch.setenv("ASHR_LABS_CA_BUNDLE", ca_file)
    t = Transport(CANARY, tls_backend.url)
    assert t.call("keep_alive") == {"status": "ok"}
    t.close()


def test_f38_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    """A ca_bundle path that does not exist fails at construction, naming the setting."""
    with pytest.raises(ConfigurationError, match="^ca_bundle: "):
        AshrLabsClient(CANARY, "https://127.0.0.1:1", ca_bundle=str(tmp_path / "nope.pem"))


@pytest.mark.parametrize("url", ["http://example.invalid", "http://10.0.0.1:8080/api"])
def test_f38_plain_http_to_a_remote_host_is_refused_before_any_io(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """http:// to a non-loopback host is refused at construction; nothing is resolved or dialled."""
    touched: list[Any] = []

    def no_resolve(*args: Any, **kwargs: Any) -> Any:
        touched.append(args)
        raise AssertionError("resolved a name")

    def no_connect(self: socket.socket, address: Any) -> Any:
        touched.append(address)
        raise AssertionError("connected")

    monkeypatch.setattr(socket, "getaddrinfo", no_resolve)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    with pytest.raises(ConfigurationError, match="refusing to send the API key over plain http"):
        AshrLabsClient(CANARY, url)
    assert touched == []


def test_f38_insecure_opt_in_by_argument_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """allow_insecure=True or ASHR_LABS_ALLOW_INSECURE=1 accepts plain http (nothing is sent)."""
    AshrLabsClient(CANARY, "http://example.invalid", allow_insecure=True).close()
    monkeypatch.setenv("ASHR_LABS_ALLOW_INSECURE", "1")
    AshrLabsClient(CANARY, "http://example.invalid").close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_f38_plain_http_to_loopback_works(host: str) -> None:
    """http:// to loopback is allowed and works."""
    with ScriptedBackend() as backend:
        with AshrLabsClient(CANARY, f"http://{host}:{backend.port}") as client:
            assert client.health_check() == {"status": "ok"}


# --- F40 -----------------------------------------------------------------------------------------


def forms(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"Bearer {secret}".encode()).decode(),
        urllib.parse.quote(secret),
        json.dumps(secret)[1:-1],
    ]


def assert_clean(text: str, where: str) -> None:
    for form in forms(CANARY):
        assert form not in text, f"key form {form!r} leaked into {where}"


def test_f40_key_never_leaks_through_logs_reprs_pickles_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Success and every error path at DEBUG: the key is in no log, repr, pickle or traceback."""
    echo = {"status": "error", "message": f"bad key {CANARY}", "key": CANARY}
    steps = [
        Step(body={"status": "ok", "echo": CANARY}),
        Step(401, body=echo),
        Step(403, body=echo),
        Step(404, body={"status": "error"}),
        Step(422, body=echo),
        Step(429, {"Retry-After": "100"}, body=echo),
        Step(500, {"Content-Type": "text/html"}, f"<p>Authorization: Bearer {CANARY}</p>"),
        Step(200, body=f"not json {CANARY}"),
        Step(200, body={"status": "error", "message": CANARY}),
        Step(301, {"Location": f"http://127.0.0.1:1/?k={CANARY}"}, b""),
        Step(action="reset"),
    ]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for name in ("urllib3", "ashr_labs", "requests"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        with ScriptedBackend(steps) as backend:
            client = AshrLabsClient(CANARY, backend.url, max_retries=0)
            texts += [repr(client), str(client), repr(client._transport), repr(client._session)]
            for _ in steps:
                try:
                    texts.append(repr(client.get_run(1)))
                except AshrLabsError as exc:
                    texts.append(repr(exc))
                    texts.append("".join(traceback.format_exception(exc)))
                    texts.append(pickle.dumps(exc).decode("latin-1"))
            for obj in (client, client._transport):
                with pytest.raises(TypeError, match="pickle"):
                    pickle.dumps(obj)
            client.close()
        closed = AshrLabsClient(CANARY, f"http://127.0.0.1:{closed_port()}", timeout=1)
        with pytest.raises(TransportError) as info:
            closed.health_check()
        texts.append("".join(traceback.format_exception(info.value)))
        closed.close()
    texts.append(caplog.text)
    assert any("get_run" in r.getMessage() for r in caplog.records)  # traffic was logged
    for index, text in enumerate(texts):
        assert_clean(text, f"output #{index}")


def test_f40_key_is_shown_as_a_short_prefix_only() -> None:
    """repr shows at most a short prefix of the key."""
    client = AshrLabsClient(CANARY, "http://127.0.0.1:9")
    assert "tp_ca" in repr(client)
    assert CANARY[:8] not in repr(client)
    client.close()


def test_f40_bad_key_error_does_not_echo_the_value() -> None:
    """A malformed key's error says what was wrong without printing the key."""
    secret = "sk-live-abcdef123456"
    with pytest.raises(ValueError) as info:
        AshrLabsClient(secret, "http://127.0.0.1:9")
    assert secret not in str(info.value)


# --- F13 (transport side) ------------------------------------------------------------------------


def test_f13_forked_child_opens_its_own_connection() -> None:
    """A child forked after calls uses a new connection; parent and child both succeed."""
    with ScriptedBackend() as backend:
        t = Transport(CANARY, backend.url, 5)
        t.call("keep_alive")
        parent_port = backend.requests[-1].peer_port
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                ok = t.call("get_run", {"run_id": 1}) == {"status": "ok"}
                os.write(write_fd, b"ok" if ok else b"bad")
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                os.write(write_fd, repr(exc).encode()[:500])
            finally:
                os._exit(code)
        os.close(write_fd)
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("child did not finish within 10 s")
        ready, _, _ = select.select([read_fd], [], [], 1)
        message = os.read(read_fd, 1000) if ready else b""
        os.close(read_fd)
        assert message == b"ok", message
        assert status == 0
        child_ports = [r.peer_port for r in backend.requests if r.function == "get_run"]
        assert child_ports and child_ports[0] != parent_port
        t.call("keep_alive")  # the parent's pool still works
        t.close()


def test_environment_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY from the environment (read once per session) routes the call via the proxy."""
    with ScriptedBackend() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        target = f"http://127.0.0.1:{closed_port()}/api"
        t = Transport(CANARY, target, 5)
        assert t.call("keep_alive") == {"status": "ok"}
        t.close()
    (seen,) = proxy.requests
    assert seen.path == target  # absolute-form request line: it came through as a proxy
    assert seen.body == {"function": "keep_alive"}

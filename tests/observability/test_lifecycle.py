"""Client lifecycle: settings (F19), disabled tracing (F20), no leaks (F16), zero-code exporter."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from typing import Any

import pytest

from ashr_labs import AshrLabsClient, AshrSpanExporter, ConfigurationError, observe
from tests.observability.conftest import CANARY_KEY
from tests.support.scripted_backend import ScriptedBackend


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_queue_size": -1}, "max_queue_size: expected a positive int, got -1"),
        ({"flush_timeout_s": "abc"}, "flush_timeout_s: expected a positive number of seconds"),
        ({"max_export_batch_size": 5000}, "max_export_batch_size: expected at most max_queue_size"),
        ({"export_timeout_s": float("nan")}, "export_timeout_s: expected a positive number"),
        ({"mask": 3}, "mask: expected a callable"),
        ({"enabled": "yes"}, "enabled: expected True, False or None"),
    ],
)
def test_f19_bad_settings_fail_at_construction(kwargs: dict[str, Any], needle: str) -> None:
    """A bad tracing setting raises ConfigurationError (a ValueError) naming it, at once."""
    with pytest.raises(ConfigurationError) as caught:
        AshrLabsClient(api_key=CANARY_KEY, base_url="http://127.0.0.1:9", **kwargs)
    assert isinstance(caught.value, ValueError) and needle in str(caught.value)


def test_f19_a_timeout_in_ms_warns_and_the_client_still_works(
    backend: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """flush_timeout_s=2000 warns once that the unit is seconds; tracing still works."""
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        client = make_client(backend.url, flush_timeout_s=2000)
    assert any("unit is seconds" in r.getMessage() for r in caplog.records)
    assert client.trace("t").end(flush=True)["status"] == "ok"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ASHR_LABS_API_KEY": "not-a-tp-key"},
        {"ASHR_LABS_API_KEY": CANARY_KEY, "ASHR_LABS_BASE_URL": "ftp://nowhere"},
        {"ASHR_LABS_API_KEY": CANARY_KEY, "ASHR_LABS_TIMEOUT": "abc"},
    ],
)
def test_f19_zero_code_exporter_with_bad_env_logs_and_stays_off(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """AshrSpanExporter() reads the env; bad values are logged (no key) and exports are no-ops."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        exporter = AshrSpanExporter()
    assert exporter._transport is None
    assert any("tracing is off" in r.getMessage() for r in caplog.records)
    assert CANARY_KEY not in caplog.text
    from opentelemetry.sdk.trace.export import SpanExportResult

    assert exporter.export([]) is SpanExportResult.SUCCESS


def test_zero_code_exporter_reads_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a good key and URL in the env, the no-argument exporter sends whole traces."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    with ScriptedBackend() as backend:
        monkeypatch.setenv("ASHR_LABS_API_KEY", CANARY_KEY)
        monkeypatch.setenv("ASHR_LABS_BASE_URL", backend.url)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(AshrSpanExporter()))
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span("handler"):
            with tracer.start_as_current_span("chat") as llm:
                llm.set_attribute("gen_ai.request.model", "m")
        with tracer.start_as_current_span("health"):
            pass
        provider.shutdown()
        names = [b["trace"]["name"] for b in backend.bodies("ingest_observability_trace")]
    assert names == ["handler"]


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_f16_a_client_per_request_leaks_nothing(backend: Any) -> None:
    """200 x (create, trace, close) and 200 x (create, drop, gc): threads and fds at baseline."""
    warm = AshrLabsClient(api_key=CANARY_KEY, base_url=backend.url, schedule_delay_ms=20)
    warm.trace("warm").end(flush=True)
    warm.close()
    gc.collect()
    threads, fds = threading.active_count(), _fd_count()
    for i in range(200):
        client = AshrLabsClient(api_key=CANARY_KEY, base_url=backend.url, schedule_delay_ms=20)
        client.trace(f"t{i}").end()
        client.close()
    for i in range(200):
        AshrLabsClient(api_key=CANARY_KEY, base_url=backend.url)
        if i % 20 == 19:  # a full collection costs ~50 ms in this suite's heap
            gc.collect()
    gc.collect()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads + 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads + 1
    assert _fd_count() <= fds + 1
    assert backend.count("ingest_observability_trace") == 201


def test_f20_disabled_tracing_opens_no_thread_and_no_socket(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """OTEL_SDK_DISABLED=true: 1,000 spans, flush; no thread, no connect; values still returned."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tracing opened a socket while disabled")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    threads = threading.active_count()
    with caplog.at_level(logging.INFO, logger="ashr_labs"):
        client = AshrLabsClient(api_key=CANARY_KEY, base_url="http://127.0.0.1:9")

    @observe
    def answer(x: int) -> int:
        return x * 2

    with client.trace("t") as t:
        for i in range(1000):
            with t.span(f"s{i}") as s:
                s.end(output=answer(i))
    assert answer(21) == 42
    assert client.flush(1)["sent"] == 0
    assert threading.active_count() == threads
    assert len([r for r in caplog.records if "tracing is off" in r.getMessage()]) == 1
    client.close()


def test_enabled_false_option_and_env(make_client: Any, backend: Any, monkeypatch: Any) -> None:
    """enabled=False and ASHR_LABS_TRACING_ENABLED=0 both give no-op tracing."""
    assert make_client(backend.url, enabled=False).trace("x").end()["status"] == "disabled"
    monkeypatch.setenv("ASHR_LABS_TRACING_ENABLED", "0")
    assert make_client(backend.url).trace("x").end()["status"] == "disabled"
    assert backend.count() == 0


def test_trace_after_close_is_a_noop_with_a_warning(
    make_client: Any, backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A closed client hands out no-op traces and says so once."""
    client = make_client(backend.url)
    client.close()
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        result = client.trace("late").end()
        client.trace("later").end()
    assert result["status"] == "disabled" and len(result["trace_id"]) == 32
    assert len([r for r in caplog.records if "closed client" in r.getMessage()]) == 1
    assert backend.count() == 0


def test_internal_errors_are_logged_once_and_swallowed_even_when_unprintable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With strict mode off the guard swallows its block's bug and logs each cause once; an
    exception whose __str__ raises is logged under its type; BaseException passes through."""
    from ashr_labs import _safety

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    _safety.set_strict(False)
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        for _ in range(3):
            with _safety.internal_errors():
                raise Unprintable()
            with _safety.internal_errors():
                raise ValueError("a bug")
        with pytest.raises(KeyboardInterrupt):
            with _safety.internal_errors():
                raise KeyboardInterrupt
    logged = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert [type(r.exc_info[1]).__name__ for r in logged if r.exc_info] == [
        "Unprintable",
        "ValueError",
    ]
    _safety.set_strict(True)
    with pytest.raises(ValueError):
        with _safety.internal_errors():
            raise ValueError("strict")

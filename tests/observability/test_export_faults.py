"""Exporter faults against the scripted backend: FAULTS.md F01, F02, F06-F11, F17, F18, F59."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.observability.conftest import CANARY_KEY, ingested
from tests.support.scripted_backend import ScriptedBackend, Step, blackhole, closed_port

INGEST = "ingest_observability_trace"


def warnings_from_sdk(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("ashr_labs") and r.levelno >= 30]


@pytest.mark.timing
def test_f01_backend_down_loses_every_trace_quietly(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Closed port, 4 threads x 500 traces: nothing raises; 0 sent, 2000 lost; <= 2 warnings."""
    client = make_client(f"http://127.0.0.1:{closed_port()}", export_timeout_s=0.5)
    caplog.set_level(logging.WARNING, logger="ashr_labs")

    def burst() -> None:
        for i in range(500):
            client.trace(f"t{i}").end()

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 20
    report = client.flush(5)
    while not report["complete"] and time.monotonic() < deadline:
        report = client.flush(5)
    assert report["sent"] == 0
    assert report["failed"] + report["dropped"] == 2000, report
    assert len(warnings_from_sdk(caplog)) <= 2
    processor = client._tracing.processor
    assert len(processor._queue) <= processor.max_queue_size
    exporter = client._tracing.exporter
    assert exporter.max_buffered_bytes_seen <= client._tracing_options.max_trace_bytes


def test_f01_refused_connections_fail_the_next_traces_unmapped_then_probe_once(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refused connection, traces fail at once without being buffered, mapped or sent;
    when the window ends, one trace is tried with one connection attempt (no retries)."""
    from ashr_labs.observability import _exporter

    client = make_client(f"http://127.0.0.1:{closed_port()}", export_timeout_s=0.5)
    mapped: list[int] = []
    real_build = _exporter.build_trace_payload

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        mapped.append(kwargs["trace_id"])
        return real_build(*args, **kwargs)

    connects: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> Any:
        connects.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(_exporter, "build_trace_payload", counting_build)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    client.trace("first").end()
    report = client.flush(3)
    assert report["failed"] == 1 and report["reasons"] == {"connection": 1}, report
    first_connects = len(connects)
    assert len(mapped) == 1 and first_connects >= 2  # the first failure is retried
    exporter = client._tracing.exporter
    exporter.max_buffered_bytes_seen = 0
    started = time.monotonic()
    for i in range(50):
        with client.trace(f"t{i}") as t:
            t.span("child", input="x" * 1000).end()
    report = client.flush(3)
    assert time.monotonic() - started < 1.0
    assert report["failed"] == 51 and report["reasons"]["backend_unavailable"] == 50, report
    assert len(mapped) == 1 and len(connects) == first_connects
    assert exporter.max_buffered_bytes_seen == 0  # children of a doomed trace are not kept
    client._tracing.exporter._down_until = 0.0  # the window is over
    client.trace("probe").end()
    report = client.flush(3)
    assert report["reasons"]["connection"] == 2, report
    assert len(mapped) == 2 and len(connects) == first_connects + 1


@pytest.mark.timing
def test_f02_blackhole_only_the_worker_connects_and_each_attempt_ends(make_client: Any) -> None:
    """App threads never connect; attempts end by the export deadline; a later trace is tried."""
    connecting: list[str] = []
    real_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> Any:
        connecting.append(threading.current_thread().name)
        return real_connect(sock, address)

    with blackhole() as hole:
        client = make_client(hole.url, export_timeout_s=0.5, flush_timeout_s=3)
        socket.socket.connect = recording_connect  # type: ignore[method-assign]
        try:
            started = time.monotonic()
            first = client.trace("one").end()
            second = client.trace("two").end()
            assert time.monotonic() - started < 0.2
            assert first["status"] == second["status"] == "queued"
            report = client.flush(3)
        finally:
            socket.socket.connect = real_connect  # type: ignore[method-assign]
        assert report["failed"] == 2 and report["reasons"].get("timeout") == 2, report
        assert set(connecting) == {"ashr-labs-export"}
        deadline = time.monotonic() + 2
        while len(hole.closed) < len(hole.opened) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hole.opened) >= 2 and len(hole.closed) == len(hole.opened)


@pytest.mark.timing
def test_f06_flush_returns_by_its_deadline_and_sending_goes_on(make_client: Any) -> None:
    """Each request takes 2 s: flush(0.1) returns at once, incomplete; flush(5) later: sent."""
    with ScriptedBackend(default=Step(delay=2.0)) as slow:
        client = make_client(slow.url, export_timeout_s=5, flush_timeout_s=0.3)
        client.trace("t").end()
        started = time.monotonic()
        report = client.flush(timeout=0.1)
        assert time.monotonic() - started < 0.1 * 1.5 + 0.5
        assert report["complete"] is False and report["pending"] >= 1
        result = client.trace("t2").end(flush=True)
        assert result["status"] == "error" and "not delivered" in result["message"]
        final = client.flush(timeout=6)
        assert final["complete"] and final["sent"] == 2, final


@pytest.mark.timing
def test_f07_burst_over_the_queue_drops_newest_and_counts_exactly(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Worker stuck in an export; 10x queue capacity ended; sent + dropped == ended; first kept."""
    release = threading.Event()
    caplog.set_level(logging.WARNING, logger="ashr_labs")
    with ScriptedBackend() as backend:
        backend.on(INGEST, Step(action="hold", event=release, hold_cap_s=10))
        client = make_client(
            backend.url,
            max_queue_size=50,
            max_export_batch_size=10,
            export_timeout_s=10,
            max_trace_age_s=0.3,
        )
        client.trace("blocker").end()
        backend.wait_for(lambda b: b.count(INGEST) == 1)
        partial = client.trace("partial")
        partial.span("child").end()  # queued; its root will be refused below
        for i in range(500):
            client.trace(f"t{i}").end()
        partial.end()
        release.set()
        deadline = time.monotonic() + 8
        report = client.flush(5)
        while len(ingested(backend)) < 51 and time.monotonic() < deadline:
            time.sleep(0.05)
            report = client.flush(1)
    traces = ingested(backend)
    names = [t["name"] for t in traces if t["name"] != "child"]
    assert names == ["blocker"] + [f"t{i}" for i in range(49)]
    assert report["sent"] == 51 and report["dropped"] == 452, report
    # spans: blocker + 49 survivors + the partial's child arrived; 452 refused; 503 ended
    assert 1 + 49 + 1 + report["dropped"] == 503
    lost_root = next(
        t for t in traces if t["observations"][:1] and t["observations"][0]["name"] == "child"
    )
    assert lost_root["incomplete"] is True and lost_root["dropped_spans"] == 1
    assert report["reasons"]["queue_full"] == report["dropped"]
    assert len([r for r in warnings_from_sdk(caplog) if "queue full" in r.getMessage()]) <= 1


@pytest.mark.timing
def test_f08_retry_after_is_honoured_within_the_deadline(make_client: Any) -> None:
    """[503 RA=1, 429 RA=1, 200]: 3 requests, gaps >= 0.9 s; RA=100, deadline 2 s: fails at once."""
    with ScriptedBackend() as backend:
        backend.on(
            INGEST,
            Step(503, {"Retry-After": "1"}, {"status": "error", "message": "busy"}),
            Step(429, {"Retry-After": "1"}, {"status": "error", "message": "slow"}),
        )
        client = make_client(backend.url, export_timeout_s=5)
        assert client.trace("t").end(flush=True)["status"] == "ok"
        times = [r.time for r in backend.requests if r.function == INGEST]
        assert len(times) == 3 and all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False))
    with ScriptedBackend() as backend:
        backend.on(INGEST, Step(503, {"Retry-After": "100"}, {"status": "error", "message": "x"}))
        client = make_client(backend.url, export_timeout_s=2)
        started = time.monotonic()
        result = client.trace("t").end(flush=True)
        assert time.monotonic() - started < 1.0
        assert result["status"] == "error" and backend.count(INGEST) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 500])
def test_f09_client_and_server_errors_are_not_retried(
    make_client: Any, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """One request (two for 413), the reason in the report, the server message logged, no key."""
    message = f"rejected: key {CANARY_KEY} is not allowed here"
    caplog.set_level(logging.WARNING, logger="ashr_labs")
    with ScriptedBackend(default=Step(status, body={"status": "error", "message": message})) as b:
        client = make_client(b.url)
        with client.trace("t") as t:
            t.span("s", input="x" * 5000).end()
        report = client.flush(5)
        assert b.count(INGEST) == (2 if status == 413 else 1)
        assert report["failed"] == 1 and report["reasons"] == {f"http_{status}": 1}
        if status == 413:
            first, second = (len(json.dumps(x)) for x in b.bodies(INGEST))
            assert second < first
    logged = "\n".join(r.getMessage() for r in warnings_from_sdk(caplog))
    assert "is not allowed here" in logged and CANARY_KEY not in logged


def test_f10_stored_then_dropped_reply_is_retried_and_stored_once(
    local_server: Any, make_client: Any
) -> None:
    """The first two sends reach the server but the reply is lost; one trace, no duplicate obs."""
    with ScriptedBackend() as backend:
        backend.on(
            INGEST,
            Step(action="forward", forward_to=local_server.url),
            Step(action="forward", forward_to=local_server.url),
            Step(body={"status": "ok"}),
        )
        client = make_client(backend.url, api_key=local_server.api_key, export_timeout_s=5)
        with client.trace("f10") as t:
            for i in range(3):
                t.span(f"s{i}").end()
        # A second end(flush=True) after the block waits for this trace's answer.
        assert t.end(flush=True)["status"] == "ok"
        report = client.flush(5)
        assert report["sent"] == 1 and backend.count(INGEST) == 3
    reader = make_client(local_server.url, api_key=local_server.api_key)
    stored = reader.get_observability_trace(t.trace_id)["trace"]
    assert sorted(o["name"] for o in stored["observations"]) == ["s0", "s1", "s2"]


def test_f11_one_huge_value_is_cut_and_the_rest_arrive_whole(make_client: Any) -> None:
    """A 20 MB input in a 500-observation trace: cut with its size; 499 whole; body under cap."""
    with ScriptedBackend() as backend:
        client = make_client(backend.url, max_trace_bytes=2 * 2**20)
        with client.trace("big") as t:
            t.span("huge", input="y" * (20 * 2**20)).end()
            for i in range(499):
                t.span(f"s{i}", input={"i": i}).end()
        client.flush(10)
        (request,) = [r for r in backend.requests if r.function == INGEST]
    assert len(request.raw) <= 2 * 2**20
    obs = request.body["trace"]["observations"]
    assert len(obs) == 500
    huge = next(o for o in obs if o["name"] == "huge")
    assert huge["input"]["_ashr_truncated"]["original_bytes"] >= 20 * 2**20
    assert all(o["input"] == {"i": int(o["name"][1:])} for o in obs if o["name"] != "huge")


def test_f11_non_ascii_values_near_the_trace_cap_are_cut_to_fit(make_client: Any) -> None:
    """Two values of 4,000 characters past U+FFFF (48 KB each as escaped JSON) under a 64 KB
    trace cap: both are cut and the body fits."""
    with ScriptedBackend() as backend:
        client = make_client(backend.url, max_trace_bytes=64 * 1024)
        with client.trace("emoji") as t:
            for i in range(2):
                t.span(f"s{i}", input="\U0001f600" * 4000).end()
        client.flush(5)
        (request,) = [r for r in backend.requests if r.function == INGEST]
    assert len(request.raw) <= 64 * 1024
    obs = request.body["trace"]["observations"]
    assert sorted(o["name"] for o in obs) == ["s0", "s1"]
    assert all(o["input"]["_ashr_truncated"]["original_bytes"] >= 16_000 for o in obs)


@pytest.mark.timing
def test_f59_buffers_are_capped_and_abandoned_traces_arrive_partial(make_client: Any) -> None:
    """Caps 0.2 s, 100 spans, 10 open traces: partial traces marked; counts match; bytes capped."""
    with ScriptedBackend() as backend:
        client = make_client(
            backend.url,
            max_trace_age_s=0.2,
            max_spans_per_trace=100,
            max_open_traces=10,
            max_trace_bytes=64 * 1024,
        )
        abandoned = client.trace("never-ends")
        abandoned.span("child").end()
        with client.trace("wide") as wide:
            for i in range(1000):
                wide.span(f"c{i}").end()
        open_traces = [client.trace(f"open{i}") for i in range(30)]
        for t in open_traces:
            t.span("kid").end()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            names = {t["name"] for t in ingested(backend)}
            if {"wide"} <= names and "never-ends" in names:
                break
            client.flush(0.5)
            time.sleep(0.05)
        report = client.flush(2)
        for t in open_traces:
            t.end()
        client.flush(5)
    traces = ingested(backend)
    wide_payload = next(t for t in traces if t["name"] == "wide")
    assert wide_payload["incomplete"] is True
    assert len(wide_payload["observations"]) + wide_payload["dropped_spans"] == 1000
    never = next(t for t in traces if t["name"] == "never-ends")
    assert never["incomplete"] is True and never["observations"][0]["name"] == "child"
    assert report["dropped"] >= 1000 - 100
    exporter = client._tracing.exporter
    assert exporter.max_buffered_bytes_seen <= 10 * 64 * 1024
    assert {f"open{i}" for i in range(30)} <= {t["name"] for t in traces}


def test_f17_exporter_http_makes_no_span(make_client: Any) -> None:
    """With requests instrumentation on another provider, the ingest call records no span."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    app_provider = TracerProvider()
    memory = InMemorySpanExporter()
    app_provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=app_provider)
    try:
        with ScriptedBackend() as backend:
            client = make_client(backend.url)
            client.trace("t").end()
            client.flush(5)
            time.sleep(5 * 0.02)
            assert backend.count(INGEST) == 1
        assert memory.get_finished_spans() == ()
    finally:
        instrumentor.uninstrument()
        app_provider.shutdown()


def test_f18_a_tracing_log_handler_causes_no_recursion(make_client: Any) -> None:
    """A root handler that opens a span per record, 10,000 forced failures: bounded SDK logs."""
    client = make_client(f"http://127.0.0.1:{closed_port()}", export_timeout_s=0.3)
    records: list[logging.LogRecord] = []

    class TracingHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith("ashr_labs"):
                records.append(record)
            with client.trace("log-record") as t:
                t.event(record.getMessage()[:50])

    root = logging.getLogger()
    handler = TracingHandler()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        exporter = client._tracing.exporter
        from ashr_labs.observability._exporter import _Ready

        for _ in range(10_000):
            exporter._record_failure(_Ready(1, [], False, 0), "connection", "refused")
        client._tracing.processor.exporter.note_dropped({2: 1})
        client.flush(2)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert len(records) < 10


def test_f17_zero_code_style_no_export_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our exporter and requests instrumentation on one provider: 1 ingest, no span for it."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from ashr_labs import AshrSpanExporter

    with ScriptedBackend() as backend:
        monkeypatch.setenv("ASHR_LABS_API_KEY", CANARY_KEY)
        monkeypatch.setenv("ASHR_LABS_BASE_URL", backend.url)
        provider = TracerProvider()
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        provider.add_span_processor(
            BatchSpanProcessor(AshrSpanExporter(), schedule_delay_millis=20)
        )
        instrumentor = RequestsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            tracer = provider.get_tracer("app")
            with tracer.start_as_current_span("handler"):
                with tracer.start_as_current_span("chat") as llm:
                    llm.set_attribute("gen_ai.request.model", "m")
            backend.wait_for(lambda b: b.count(INGEST) >= 1)
            time.sleep(5 * 0.02)
            provider.force_flush()
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
        assert backend.count(INGEST) == 1
    assert sorted(s.name for s in memory.get_finished_spans()) == ["chat", "handler"]


def test_an_internal_mapping_bug_loses_one_trace_and_is_logged_once(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Strict mode off: a mapping bug counts the trace lost, logs once; later traces still go."""
    from ashr_labs import _safety
    from ashr_labs.observability import _exporter

    _safety.set_strict(False)
    real = _exporter.build_trace_payload
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("mapping bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(_exporter, "build_trace_payload", flaky)
    caplog.set_level(logging.WARNING, logger="ashr_labs")
    with ScriptedBackend() as backend:
        client = make_client(backend.url)
        assert client.trace("a").end()["status"] == "queued"
        client.flush(5)
        client.trace("b").end()
        client.trace("c").end()
        report = client.flush(5)
        assert [t["name"] for t in ingested(backend)] == ["c"]
    assert report["failed"] == 2 and report["reasons"] == {"internal_error": 2}
    internal = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(internal) == 1

"""OTLP/HTTP ingest (``POST /v1/traces``) on the real local server: the stock exporter, OTLP JSON,
and every bad request of FAULTS.md F57 answered the OTLP way."""

from __future__ import annotations

import gzip
import json
import socket
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.rpc import status_pb2
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from ashr_labs.server import _otlp
from tests.support import hypothesis_profile  # noqa: F401 - loads the "ci" profile
from tests.support.server_rpc import Tenant, new_tenant

PROTOBUF = "application/x-protobuf"


@pytest.fixture
def tenant(local_server: Any) -> Tenant:
    return new_tenant(local_server)


@pytest.fixture
def recorder() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A private provider whose finished spans are kept in memory for explicit export."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


def exporter(tenant: Tenant, **kwargs: Any) -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=tenant.url + "/v1/traces",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=5,
        **kwargs,
    )


def post(
    tenant: Tenant | None, body: bytes, content_type: str = PROTOBUF, **headers: str
) -> requests.Response:
    sent = {"Content-Type": content_type, **headers}
    if tenant is not None:
        sent.setdefault("Authorization", f"Bearer {tenant.key}")
    url = (tenant.url if tenant is not None else headers.pop("url")) + "/v1/traces"
    return requests.post(url, data=body, headers=sent, timeout=10)


def agent_run(provider: TracerProvider) -> None:
    """An Ashr-shaped trace: root + Ashr generation + GenAI chat span + failing tool + event."""
    tracer = provider.get_tracer("ashr_labs")
    with tracer.start_as_current_span(
        "handle",
        attributes={
            "ashr.observation.type": "trace",
            "ashr.trace.name": "handle-ticket",
            "ashr.trace.user_id": "user_42",
            "ashr.trace.session_id": "conv_abc",
            "ashr.trace.tags": ["prod", "eu"],
            "ashr.trace.metadata": json.dumps({"tier": "gold"}),
            "ashr.trace.input": json.dumps({"q": "reset"}),
            "ashr.trace.output": json.dumps({"resolution": "done"}),
        },
    ) as root:
        with tracer.start_as_current_span(
            "classify",
            attributes={
                "ashr.observation.type": "generation",
                "ashr.observation.input": json.dumps([{"role": "user", "content": "help"}]),
                "ashr.observation.output": json.dumps({"intent": "reset"}),
                "ashr.observation.model": "claude-sonnet-4-6",
                "ashr.observation.usage": json.dumps({"input_tokens": 50, "output_tokens": 12}),
                "ashr.trace.user_id": "user_42",
            },
        ):
            pass
        other = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
        with other.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 9,
                "gen_ai.usage.output_tokens": 4,
                "gen_ai.request.temperature": 0.2,
            },
        ) as chat:
            chat.add_event("gen_ai.user.message", {"content": "hi"})
            chat.add_event("gen_ai.choice", {"index": 0, "finish_reason": "stop"})
        with tracer.start_as_current_span(
            "tool:reset_password",
            attributes={
                "ashr.observation.type": "span",
                "ashr.observation.input": json.dumps({"u": 42}),
            },
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "PermissionError: denied"))
        root.add_event("guardrail-check", {"ashr.observation.input": json.dumps({"ok": True})})


def test_stock_exporter_protobuf_trace_reads_back_mapped(tenant: Tenant, recorder: Any) -> None:
    """Children exported before their root (as a batch processor does) merge into one trace:
    the root's ``ashr.trace.*`` fill the trace, GenAI spans become generations."""
    provider, memory = recorder
    agent_run(provider)
    spans: tuple[ReadableSpan, ...] = memory.get_finished_spans()
    otlp = exporter(tenant)
    assert otlp.export(spans[:-1]) is SpanExportResult.SUCCESS
    assert otlp.export(spans[-1:]) is SpanExportResult.SUCCESS
    otlp.shutdown()

    trace_id = format(spans[0].context.trace_id, "032x")
    trace = tenant.ok("get_observability_trace", trace_id=trace_id)["trace"]
    assert {
        k: trace[k]
        for k in ("name", "user_id", "session_id", "tags", "metadata", "input", "output")
    } == {
        "name": "handle-ticket",
        "user_id": "user_42",
        "session_id": "conv_abc",
        "tags": ["prod", "eu"],
        "metadata": {"tier": "gold"},
        "input": {"q": "reset"},
        "output": {"resolution": "done"},
    }
    by_name = {o["name"]: o for o in trace["observations"]}
    assert set(by_name) == {"classify", "chat gpt-4o", "tool:reset_password", "guardrail-check"}
    assert all(o["parent_observation_id"] is None for o in by_name.values())
    classify = by_name["classify"]
    assert (classify["type"], classify["model"], classify["usage"], classify["input"]) == (
        "generation",
        "claude-sonnet-4-6",
        {"input_tokens": 50, "output_tokens": 12},
        [{"role": "user", "content": "help"}],
    )
    chat = by_name["chat gpt-4o"]
    assert (chat["type"], chat["model"], chat["usage"]) == (
        "generation",
        "gpt-4o-2024-08-06",
        {"input_tokens": 9, "output_tokens": 4},
    )
    assert chat["input"] == [{"role": "user", "content": "hi"}]
    assert chat["output"] == [{"index": 0, "finish_reason": "stop"}]
    assert chat["metadata"]["gen_ai.request.temperature"] == 0.2
    tool = by_name["tool:reset_password"]
    assert (tool["level"], tool["status_message"], tool["input"]) == (
        "ERROR",
        "PermissionError: denied",
        {"u": 42},
    )
    assert (by_name["guardrail-check"]["type"], by_name["guardrail-check"]["input"]) == (
        "event",
        {"ok": True},
    )
    assert trace["has_error"] is True and trace["total_tokens"] == 75
    assert tenant.ok("get_observability_tool_errors")["total"] == 1


def test_stock_exporter_with_gzip(tenant: Tenant, recorder: Any) -> None:
    """``Content-Encoding: gzip`` from the stock exporter is inflated and stored."""
    provider, memory = recorder
    with provider.get_tracer("app").start_as_current_span("plain-root"):
        pass
    otlp = exporter(tenant, compression=Compression.Gzip)
    assert otlp.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    otlp.shutdown()
    listed = tenant.ok("list_observability_traces")
    assert [t["name"] for t in listed["traces"]] == ["plain-root"]


def test_f57_the_same_batch_twice_leaves_one_copy(tenant: Tenant, recorder: Any) -> None:
    """A re-sent batch upserts by span identity: one trace, each observation once."""
    provider, memory = recorder
    agent_run(provider)
    body = encode_spans(memory.get_finished_spans()).SerializeToString()
    for _ in range(2):
        response = post(tenant, body)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == PROTOBUF
        answer = ExportTraceServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_spans == 0
    listed = tenant.ok("list_observability_traces")
    assert listed["total"] == 1
    assert listed["traces"][0]["observation_count"] == 4


def otlp_json_span(
    trace: str,
    span: str,
    name: str,
    *,
    parent: str = "",
    attributes: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225601500000000",
        "attributes": attributes or [],
        **extra,
    }


def test_otlp_json_with_hex_ids_openllmetry_attributes_and_a_bad_span(tenant: Tenant) -> None:
    """OTLP JSON (hex ids) maps like protobuf; OpenLLMetry's indexed prompt attributes become the
    generation's messages; a malformed span id is rejected with ``partial_success``."""
    trace = "5b8efff798038103d269b633813fc60c"
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.openai"},
                        "spans": [
                            otlp_json_span(trace, "eee19b7ec3c1b174", "workflow"),
                            otlp_json_span(
                                trace,
                                "eee19b7ec3c1b175",
                                "openai.chat",
                                parent="eee19b7ec3c1b174",
                                attributes=[
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o-mini"},
                                    },
                                    {
                                        "key": "gen_ai.usage.prompt_tokens",
                                        "value": {"intValue": "11"},
                                    },
                                    {
                                        "key": "gen_ai.usage.completion_tokens",
                                        "value": {"intValue": 5},
                                    },
                                    {
                                        "key": "gen_ai.prompt.0.role",
                                        "value": {"stringValue": "user"},
                                    },
                                    {
                                        "key": "gen_ai.prompt.0.content",
                                        "value": {"stringValue": "hello"},
                                    },
                                    {
                                        "key": "gen_ai.completion.0.role",
                                        "value": {"stringValue": "assistant"},
                                    },
                                    {
                                        "key": "gen_ai.completion.0.content",
                                        "value": {"stringValue": "hi!"},
                                    },
                                ],
                                status={"code": 2, "message": "rate limited"},
                            ),
                            otlp_json_span(trace, "not-hex", "broken"),
                            otlp_json_span(trace, "eee19b7ec3c1b176", "orphan", parent="xyz"),
                        ],
                    }
                ],
            }
        ]
    }
    response = post(tenant, json.dumps(doc).encode(), "application/json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] in ("2", 2)
    assert partial["errorMessage"].startswith("2 span(s) rejected: invalid span_id")

    got = tenant.ok("get_observability_trace", trace_id=trace)["trace"]
    assert got["name"] == "workflow" and got["latency_ms"] == 1500.0
    assert got["start_time"] == "2026-01-01T00:00:00.000000Z"
    by_name = {o["name"]: o for o in got["observations"]}
    chat = by_name["openai.chat"]
    assert (chat["type"], chat["model"], chat["parent_observation_id"]) == (
        "generation",
        "gpt-4o-mini",
        "eee19b7ec3c1b174",
    )
    assert chat["usage"] == {"input_tokens": 11, "output_tokens": 5}
    assert chat["input"] == [{"role": "user", "content": "hello"}]
    assert chat["output"] == [{"role": "assistant", "content": "hi!"}]
    assert (chat["level"], chat["status_message"]) == ("ERROR", "rate limited")
    assert chat["metadata"]["gen_ai.system"] == "openai"
    assert not [k for k in chat["metadata"] if k.startswith(("gen_ai.prompt", "gen_ai.compl"))]
    assert by_name["workflow"]["type"] == "span"
    assert set(by_name) == {"workflow", "openai.chat"}


def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """About 1 MB of valid gzip that inflates to ``inflated`` zero bytes (built in ~0.3 s)."""
    block = bytes(1 << 20)
    chunk = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = chunk.compress(block) + chunk.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(inflated >> 20):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + piece * (inflated >> 20) + end + struct.pack("<II", crc, inflated & 0xFFFFFFFF)


def status_of(response: requests.Response) -> status_pb2.Status:
    if response.headers["Content-Type"] == PROTOBUF:
        return status_pb2.Status.FromString(response.content)
    body = response.json()
    return status_pb2.Status(code=body.get("code", 0), message=body.get("message", ""))


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "expected", "says"),
    [
        (b"\xff\xff\xff\xff", PROTOBUF, {}, 400, "protobuf"),
        (b"{not json", "application/json", {}, 400, "JSON"),
        (b"[1, 2]", "application/json", {}, 400, "object"),
        (b'{"resourceSpans": "x"}', "application/json", {}, 400, "OTLP JSON"),
        (b"[" * 100_000, "application/json", {}, 400, "nesting"),
        (b"hello", "text/plain", {}, 415, "Content-Type"),
        (b"", "", {}, 415, "Content-Type"),
        (gzip.compress(b"x"), PROTOBUF, {"Content-Encoding": "br"}, 415, "Content-Encoding"),
        (b"not gzip", PROTOBUF, {"Content-Encoding": "gzip"}, 400, "gzip"),
        (b"", PROTOBUF, {"Authorization": "Basic dXNlcjpwYXNz"}, 401, ""),
        (b"", PROTOBUF, {"Authorization": "Bearer tp_" + "x" * 43}, 401, ""),
        (b"", "application/json", {"Authorization": ""}, 401, ""),
    ],
)
def test_f57_bad_requests_get_an_otlp_status_not_the_rpc_envelope(
    tenant: Tenant,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    expected: int,
    says: str,
) -> None:
    """Each bad body, type, encoding or key: the right status and a ``google.rpc.Status`` body
    in the request's format; the tenant's store stays empty."""
    response = post(tenant, body, content_type, **headers)
    assert response.status_code == expected, response.text
    if content_type in (PROTOBUF, "application/json"):
        assert response.headers["Content-Type"] == content_type
    status = status_of(response)
    assert status.code != 0 and says in status.message
    assert "status" not in (response.json() if content_type != PROTOBUF else {})
    assert tenant.ok("list_observability_traces")["total"] == 0


def test_f45_a_gzip_bomb_gets_413_and_the_server_keeps_serving(
    tenant: Tenant, recorder: Any
) -> None:
    """1 MB inflating to 1 GiB is cut at the decompression cap; a normal export then works."""
    response = post(tenant, gzip_bomb(), PROTOBUF, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "exceeds" in status_of(response).message
    provider, memory = recorder
    with provider.get_tracer("app").start_as_current_span("after-bomb"):
        pass
    otlp = exporter(tenant, compression=Compression.Gzip)
    assert otlp.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    otlp.shutdown()
    assert tenant.ok("list_observability_traces")["total"] == 1


def test_f45_an_oversized_content_length_gets_413_before_the_body(tenant: Tenant) -> None:
    """A declared 10 GB body is refused at once with an OTLP status, not read."""
    host, port = tenant.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {tenant.key}\r\n".encode()
            + b"Content-Length: 10000000000\r\n\r\n{}"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 413") or reply.startswith(b"HTTP/1.0 413"), reply[:100]


def test_otlp_is_403_while_observability_is_off(local_server: Any, recorder: Any) -> None:
    """The feature flag gates OTLP ingest too; nothing is stored."""
    tenant = new_tenant(local_server, observability=False)
    provider, memory = recorder
    with provider.get_tracer("app").start_as_current_span("blocked"):
        pass
    response = post(tenant, encode_spans(memory.get_finished_spans()).SerializeToString())
    assert response.status_code == 403
    assert "observability" in status_of(response).message
    local_server.set_feature(tenant.tenant_id, "observability", True)
    assert tenant.ok("list_observability_traces")["total"] == 0


def test_plain_and_exception_events_become_event_observations(
    tenant: Tenant, recorder: Any
) -> None:
    """Events of a plain span keep their attributes as metadata; ``exception`` is level ERROR."""
    provider, memory = recorder
    with provider.get_tracer("app").start_as_current_span("work") as work:
        work.add_event("cache-miss", {"key": "k1"})
        work.record_exception(ValueError("bad"))
    assert post(tenant, encode_spans(memory.get_finished_spans()).SerializeToString()).ok
    trace_id = format(memory.get_finished_spans()[0].context.trace_id, "032x")
    observations = tenant.ok("get_observability_trace", trace_id=trace_id)["trace"]["observations"]
    by_name = {o["name"]: o for o in observations}
    assert by_name["cache-miss"]["metadata"] == {"key": "k1"}
    assert by_name["cache-miss"]["parent_observation_id"] == by_name["work"]["id"]
    assert by_name["exception"]["level"] == "ERROR"
    assert by_name["exception"]["metadata"]["exception.type"] == "ValueError"


def test_rpc_and_otlp_paths_share_one_store(tenant: Tenant, recorder: Any) -> None:
    """The same spans sent by our exporter's RPC payload and by OTLP make one trace with no
    duplicate observation: both paths use the span ids and the same event-id rule."""
    from ashr_labs.observability._mapping import build_trace_payload

    provider, memory = recorder
    agent_run(provider)
    spans = memory.get_finished_spans()
    payload = build_trace_payload(spans, trace_id=spans[0].context.trace_id)
    trace_id = tenant.ok("ingest_observability_trace", trace=payload)["trace_id"]
    before = tenant.ok("get_observability_trace", trace_id=trace_id)["trace"]
    assert post(tenant, encode_spans(spans).SerializeToString()).status_code == 200
    after = tenant.ok("get_observability_trace", trace_id=trace_id)["trace"]
    assert tenant.ok("list_observability_traces")["total"] == 1
    assert sorted(o["id"] for o in after["observations"]) == sorted(
        o["id"] for o in before["observations"]
    )
    assert after["name"] == before["name"] == "handle-ticket"


def test_f40_the_key_never_reaches_the_log_or_the_database(
    local_server: Any, recorder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """OTLP success, 400 and 401 with DEBUG logging: the key and its encodings appear in no
    log record and in no byte of the database files (only its hash is stored)."""
    import base64
    import logging
    import urllib.parse

    tenant = new_tenant(local_server)
    provider, memory = recorder
    with provider.get_tracer("app").start_as_current_span("canary-run"):
        pass
    with caplog.at_level(logging.DEBUG):
        assert post(tenant, encode_spans(memory.get_finished_spans()).SerializeToString()).ok
        assert post(tenant, b"\xff\xff", PROTOBUF).status_code == 400
        revoked = tenant.key[:-1] + ("A" if tenant.key[-1] != "A" else "B")
        assert post(tenant, b"", PROTOBUF, Authorization=f"Bearer {revoked}").status_code == 401
    key = tenant.key
    forms = {key, base64.b64encode(key.encode()).decode(), urllib.parse.quote(key), json.dumps(key)}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not [f for f in forms if f in logged]
    stored = b"".join(p.read_bytes() for p in local_server.data_dir.glob("*") if p.is_file())
    assert b"canary-run" in stored  # the scan does see what was stored
    assert not [f for f in forms if f.encode() in stored]


def _valid_request_bytes() -> bytes:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    agent_run(provider)
    provider.shutdown()
    return bytes(encode_spans(memory.get_finished_spans()).SerializeToString())


_VALID = _valid_request_bytes()


@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(0, len(_VALID)),
)
def test_f57_mutated_protobuf_decodes_or_fails_cleanly(
    edits: list[tuple[int, int]], cut: int
) -> None:
    """Byte flips and truncations of a real export either map or raise ``OtlpDecodeError``;
    mapping never raises (in-process, so a crash would surface as the exception itself)."""
    data = bytearray(_VALID)
    for position, value in edits:
        data[position] = value
    try:
        message = _otlp.decode_request(bytes(data[:cut]), _otlp.PROTOBUF)
    except _otlp.OtlpDecodeError:
        return
    batch = _otlp.map_request(message)
    assert batch.rejected_spans >= 0
    for trace, observations in batch.traces:
        assert len(trace.trace_id) == 32
        assert all(o.type in ("span", "generation", "event") for o in observations)


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_json_doc = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "parentSpanId",
                    "name",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "intValue",
                    "arrayValue",
                    "kvlistValue",
                    "values",
                    "events",
                    "status",
                    "code",
                    "startTimeUnixNano",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(doc=_json_doc)
def test_f57_arbitrary_otlp_json_decodes_or_fails_cleanly(doc: Any) -> None:
    """Any JSON document shaped loosely like OTLP: decoded and mapped, or ``OtlpDecodeError``."""
    try:
        message = _otlp.decode_request(json.dumps(doc).encode(), _otlp.JSON)
    except _otlp.OtlpDecodeError:
        return
    _otlp.map_request(message)


def test_one_model_call_seen_by_two_instrumentations_is_one_generation(
    tenant: Tenant, recorder: Any
) -> None:
    """Over OTLP as through the exporter: a library's own call span under our generation, and a
    contrib-style span wrapped around ours, become plain spans; agent and tool spans never
    swallow the calls inside them."""
    provider, memory = recorder
    tracer = provider.get_tracer("mixed")
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-x"}
    with tracer.start_as_current_span(
        "invoke_agent",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"},
    ):
        with tracer.start_as_current_span(
            "ours",
            attributes={
                "ashr.observation.type": "generation",
                "ashr.observation.model": "claude-x",
            },
        ):
            with tracer.start_as_current_span("anthropic own call", attributes=chat):
                pass
        with tracer.start_as_current_span("contrib chat", attributes=chat):
            with tracer.start_as_current_span(
                "ours too", attributes={"ashr.observation.type": "generation"}
            ):
                pass
        with tracer.start_as_current_span("lonely chat", attributes=chat):
            pass
    spans = memory.get_finished_spans()
    otlp = exporter(tenant)
    assert otlp.export(spans) is SpanExportResult.SUCCESS
    otlp.shutdown()

    trace_id = format(spans[0].context.trace_id, "032x")
    trace = tenant.ok("get_observability_trace", trace_id=trace_id)["trace"]
    types = {o["name"]: o["type"] for o in trace["observations"]}
    assert types == {
        "invoke_agent": "span",
        "ours": "generation",
        "anthropic own call": "span",
        "contrib chat": "span",
        "ours too": "generation",
        "lonely chat": "generation",
    }

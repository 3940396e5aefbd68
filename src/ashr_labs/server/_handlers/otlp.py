"""``POST /v1/traces``: OTLP/HTTP trace ingest, answered the OTLP way (FAULTS.md F57).

Point any OpenTelemetry exporter here: ``OTLPSpanExporter(endpoint=URL + "/v1/traces",
headers={"Authorization": "Bearer tp_..."})``. Protobuf and JSON bodies, optionally gzip-compressed
(inflation capped by the server's ``max_decompressed_bytes``, F45). Success is 200 with an
``ExportTraceServiceResponse`` in the request's format (``partial_success`` when some spans had
malformed ids); failures carry a ``google.rpc.Status`` body: 400 undecodable, 401 bad key,
403 observability off, 413 too large, 415 unsupported ``Content-Type`` or ``Content-Encoding``.
Spans land in the same store as ``ingest_observability_trace``, so re-sent batches upsert.
"""

from __future__ import annotations

from .. import _otlp
from .. import _trace_store as store
from .._rpc import RawRequest, RawResponse, RpcError, http_route, read_limited_gzip
from .._store import OBSERVABILITY, feature_enabled

__all__: list[str] = []

FEATURE = OBSERVABILITY
_IDENTITY_ENCODINGS = frozenset({"", "identity"})


def _answer(
    kind: str, status: int, body: bytes, headers: dict[str, str] | None = None
) -> RawResponse:
    content_type = _otlp.PROTOBUF if kind == _otlp.PROTOBUF else _otlp.JSON
    return RawResponse(status, {"Content-Type": content_type, **(headers or {})}, body)


def _failure(
    kind: str, status: int, message: str, headers: dict[str, str] | None = None
) -> RawResponse:
    return _answer(kind, status, _otlp.encode_status(kind, status, message), headers)


def _decoded_body(req: RawRequest, cap: int) -> bytes:
    encoding = req.headers.get("Content-Encoding", "").strip().lower()
    if encoding in _IDENTITY_ENCODINGS:
        return req.body
    if encoding in ("gzip", "x-gzip"):
        return read_limited_gzip(req.body, cap)
    raise RpcError(415, f"unsupported Content-Encoding {encoding!r}; expected gzip or identity")


@http_route("POST", "/v1/traces", auth="bearer")
def export_traces(req: RawRequest) -> RawResponse:
    """Store an ``ExportTraceServiceRequest`` for the key's tenant."""
    kind = _otlp.media_type(req.headers.get("Content-Type"))
    if req.error is not None:
        return _failure(kind, req.error.status, req.error.message, req.error.headers)
    if kind not in (_otlp.PROTOBUF, _otlp.JSON):
        return _failure(
            _otlp.JSON,
            415,
            f"unsupported Content-Type {kind or 'none'!r}; "
            f"expected {_otlp.PROTOBUF} or {_otlp.JSON}",
        )
    server, tenant_id = req.server, req.tenant_id
    if server is None or tenant_id is None:  # the dispatcher always sets both after auth
        return _failure(kind, 401, "missing or invalid API key")
    if not feature_enabled(server.db, tenant_id, FEATURE):
        return _failure(kind, 403, f"the {FEATURE} feature is not enabled for this tenant")
    try:
        message = _otlp.decode_request(
            _decoded_body(req, server.settings.max_decompressed_bytes), kind
        )
    except RpcError as exc:
        return _failure(kind, exc.status, exc.message)
    except _otlp.OtlpDecodeError as exc:
        return _failure(kind, 400, str(exc))
    batch = _otlp.map_request(message)
    with server.db.transaction() as conn:
        for trace, observations in batch.traces:
            store.upsert_trace(conn, tenant_id, trace, observations)
    return _answer(kind, 200, _otlp.encode_response(kind, batch.rejected_spans, batch.reason))

"""The observability store: trace and observation tables, one function per query.

Both ingest paths (the ``ingest_observability_trace`` RPC and OTLP/HTTP) hand this module the same
records, so a trace reads back the same whichever way it came. Everything is keyed by tenant: a
trace id that two tenants use is two traces (FAULTS.md F44). Writes are upserts by
(tenant, trace id) and (tenant, trace id, observation id), so a retried or duplicated send leaves
one trace with no duplicate observation, and a partial send followed by the complete one merges
(F10, F57). On a merge a value that is present wins over one that is absent (``None``).

Per-observation derived columns (latency, tokens, tool name, parseable time bounds) are computed
in Python from the merged row; each write then totals the trace in SQL. Only the incoming
observations are read back and rewritten, so a long trace exported span by span stays cheap.
All SQL uses placeholders; formatted fragments are module constants (F48).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ._analytics import (
    format_timestamp,
    json_safe,
    latency_ms,
    mean,
    normalize_timestamp,
    parse_timestamp,
    percentile,
    ratio,
    tool_name_of,
    usage_tokens,
)
from ._db import register_schema
from ._store import dump_doc, load_doc, now_iso

__all__ = [
    "SCHEMA",
    "ObservationRecord",
    "TraceRecord",
    "analytics",
    "get_trace",
    "list_error_traces",
    "list_traces",
    "trace_exists_for_other_tenant",
    "upsert_trace",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS obs_traces (
    tenant_id INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    name TEXT,
    user_id TEXT,
    session_id TEXT,
    metadata TEXT,
    tags TEXT,
    input TEXT,
    output TEXT,
    start_time TEXT,
    end_time TEXT,
    level TEXT,
    status_message TEXT,
    root_observation_id TEXT,
    incomplete INTEGER NOT NULL DEFAULT 0,
    dropped_spans INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ts TEXT NOT NULL,
    latency_ms REAL,
    observation_count INTEGER NOT NULL DEFAULT 0,
    has_error INTEGER NOT NULL DEFAULT 0,
    has_tool_error INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, trace_id)
);
CREATE INDEX IF NOT EXISTS obs_traces_by_time ON obs_traces (tenant_id, ts);
CREATE INDEX IF NOT EXISTS obs_traces_by_user ON obs_traces (tenant_id, user_id, ts);
CREATE INDEX IF NOT EXISTS obs_traces_by_session ON obs_traces (tenant_id, session_id, ts);
CREATE TABLE IF NOT EXISTS obs_observations (
    tenant_id INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    observation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    parent_observation_id TEXT,
    input TEXT,
    output TEXT,
    metadata TEXT,
    model TEXT,
    usage TEXT,
    level TEXT,
    status_message TEXT,
    start_time TEXT,
    end_time TEXT,
    latency_ms REAL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    tool_name TEXT,
    start_ts TEXT,
    end_ts TEXT,
    PRIMARY KEY (tenant_id, trace_id, observation_id)
);
CREATE INDEX IF NOT EXISTS obs_observations_tools
    ON obs_observations (tenant_id, tool_name) WHERE tool_name IS NOT NULL;
"""
register_schema(SCHEMA)

ERROR_LEVEL = "ERROR"


@dataclass(frozen=True)
class TraceRecord:
    """Trace-level values of one send; ``None`` means "not in this send" (kept on merge)."""

    trace_id: str
    name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    metadata: Any = None
    tags: list[str] | None = None
    input: Any = None
    output: Any = None
    start_time: str | None = None
    end_time: str | None = None
    level: str | None = None
    status_message: str | None = None
    root_observation_id: str | None = None
    """The id of a root span that stands for the trace itself (OTLP); its children read as
    top-level observations."""
    incomplete: bool | None = None
    dropped_spans: int | None = None


@dataclass(frozen=True)
class ObservationRecord:
    """One observation of one send; ``None`` fields are kept from an earlier send on merge."""

    id: str
    type: str
    name: str | None = None
    parent_observation_id: str | None = None
    input: Any = None
    output: Any = None
    metadata: Any = None
    model: str | None = None
    usage: Any = None
    level: str | None = None
    status_message: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass
class _ObsRow:
    record: ObservationRecord
    seq: int
    derived: dict[str, Any] = field(default_factory=dict)


_ID_CHUNK = 500


def _dump(value: Any) -> str | None:
    return dump_doc(json_safe(value))


_JSON_FIELDS = frozenset({"metadata", "tags", "input", "output", "usage"})
"""Record fields stored as JSON text."""
_TRACE_FIELDS = tuple(f.name for f in fields(TraceRecord) if f.name != "trace_id")
_OBS_FIELDS = tuple(f.name for f in fields(ObservationRecord) if f.name != "id")


def _decoded(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Record fields from stored values (JSON text decoded)."""
    return {
        name: load_doc(value) if name in _JSON_FIELDS else value
        for name, value in zip(names, values, strict=True)
    }


def _encoded(record: Any, names: Sequence[str]) -> dict[str, Any]:
    """Stored values of a record's fields (JSON fields as text)."""
    return {
        name: _dump(getattr(record, name)) if name in _JSON_FIELDS else getattr(record, name)
        for name in names
    }


def _upsert_sql(table: str, columns: Sequence[str], key: Sequence[str], keep: Sequence[str]) -> str:
    """An INSERT of ``columns`` that, when ``key`` exists, overwrites every column but the key
    and ``keep``. Built once at import from this module's constants (F48)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in (*key, *keep))
    marks = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def _normalized(value: str | None) -> str | None:
    return None if value is None else normalize_timestamp(value)


def _merge(old: Any, new: Any) -> Any:
    """Field-wise merge of two records of the same dataclass: present values of ``new`` win."""
    changes = {f.name: getattr(new, f.name) for f in fields(new)}
    changes = {name: value for name, value in changes.items() if value is not None}
    return replace(old, **changes)


# --- writes ------------------------------------------------------------------------------------


def upsert_trace(
    conn: sqlite3.Connection,
    tenant_id: int,
    trace: TraceRecord,
    observations: Sequence[ObservationRecord],
) -> str:
    """Insert or merge one trace and its observations for ``tenant_id``; returns the trace id.

    Call inside one transaction: it reads the stored rows, merges in Python and writes back.
    """
    now = now_iso()
    trace = replace(
        trace,
        start_time=_normalized(trace.start_time),
        end_time=_normalized(trace.end_time),
    )
    stored_trace, created_at = _read_trace_record(conn, tenant_id, trace.trace_id)
    if stored_trace is None:
        merged_trace = trace
    elif trace.incomplete and not stored_trace.incomplete:
        # A late partial copy after the complete one only fills gaps: its header (a guessed
        # name, no output) must not overwrite the root's, nor mark the trace partial again.
        merged_trace = replace(_merge(trace, stored_trace), incomplete=False)
    else:
        merged_trace = _merge(stored_trace, trace)
    if stored_trace is not None and trace.dropped_spans is not None:
        merged_trace = replace(
            merged_trace, dropped_spans=max(stored_trace.dropped_spans or 0, trace.dropped_spans)
        )

    rows = _read_observation_rows(conn, tenant_id, trace.trace_id, [o.id for o in observations])
    next_seq = _next_seq(conn, tenant_id, trace.trace_id)
    for obs in observations:
        obs = replace(
            obs, start_time=_normalized(obs.start_time), end_time=_normalized(obs.end_time)
        )
        existing = rows.get(obs.id)
        if existing is None:
            rows[obs.id] = _ObsRow(obs, next_seq)
            next_seq += 1
        else:
            existing.record = _merge(existing.record, obs)
    for row in rows.values():
        row.derived = _derive_observation(row.record)

    _write_observations(conn, tenant_id, trace.trace_id, rows.values())
    _write_trace(conn, tenant_id, merged_trace, created_at or now, now)
    return trace.trace_id


def _derive_observation(obs: ObservationRecord) -> dict[str, Any]:
    """Per-row numbers the queries aggregate; ``start_ts``/``end_ts`` only when parseable (an
    event's end is its start), so SQL MIN/MAX over them are true time bounds."""
    tokens_in, tokens_out = usage_tokens(obs.usage)
    start = parse_timestamp(obs.start_time)
    end = parse_timestamp(obs.end_time) or (start if obs.end_time is None else None)
    return {
        "latency_ms": latency_ms(obs.start_time, obs.end_time),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "tool_name": tool_name_of(obs.name, obs.metadata) if obs.type != "generation" else None,
        "start_ts": None if start is None else format_timestamp(start),
        "end_ts": None if end is None else format_timestamp(end),
    }


def _next_seq(conn: sqlite3.Connection, tenant_id: int, trace_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(seq), -1) + 1 FROM obs_observations "
        "WHERE tenant_id = ? AND trace_id = ?",
        (tenant_id, trace_id),
    ).fetchone()
    return int(row[0])


_DERIVED_COLUMNS = (
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "tool_name",
    "start_ts",
    "end_ts",
)
"""Per-observation columns computed by ``_derive_observation``."""
_OBS_WRITE_COLUMNS = (
    "tenant_id",
    "trace_id",
    "observation_id",
    "seq",
    *_OBS_FIELDS,
    *_DERIVED_COLUMNS,
)
_OBS_UPSERT = _upsert_sql(
    "obs_observations",
    _OBS_WRITE_COLUMNS,
    key=("tenant_id", "trace_id", "observation_id"),
    keep=("seq",),  # arrival order is the first send's
)


def _write_observations(
    conn: sqlite3.Connection, tenant_id: int, trace_id: str, rows: Iterable[_ObsRow]
) -> None:
    params = []
    for row in rows:
        obs = row.record
        values = {
            "tenant_id": tenant_id,
            "trace_id": trace_id,
            "observation_id": obs.id,
            "seq": row.seq,
            **_encoded(obs, _OBS_FIELDS),
            **row.derived,
        }
        params.append(tuple(values[column] for column in _OBS_WRITE_COLUMNS))
    conn.executemany(_OBS_UPSERT, params)


_TRACE_TOTALS = """SELECT COUNT(*), COALESCE(SUM(input_tokens), 0),
        COALESCE(SUM(output_tokens), 0), COUNT(tool_name), COALESCE(SUM(level = 'ERROR'), 0),
        COALESCE(SUM(tool_name IS NOT NULL AND level = 'ERROR'), 0), MIN(start_ts), MAX(end_ts)
    FROM obs_observations WHERE tenant_id = ? AND trace_id = ?"""


def _trace_latency(
    trace: TraceRecord, first_start: str | None, last_end: str | None
) -> tuple[float | None, str | None]:
    """The trace's latency and start: its own times if given, else its observations' bounds."""
    first = parse_timestamp(trace.start_time) or parse_timestamp(first_start)
    start_text = None if first is None else format_timestamp(first)
    own = latency_ms(trace.start_time, trace.end_time)
    if own is not None:
        return own, start_text
    last = parse_timestamp(trace.end_time) or parse_timestamp(last_end)
    if first is None or last is None:
        return None, start_text
    return latency_ms(format_timestamp(first), format_timestamp(last)), start_text


def _is_error_output(output: Any) -> bool:
    """The published client's only trace-level error mark: a trace whose ``with`` block raised
    is sent with ``output={"error": "<ExceptionClass>: <message>"}``."""
    return isinstance(output, dict) and len(output) == 1 and isinstance(output.get("error"), str)


_TRACE_WRITE_COLUMNS = (
    "tenant_id",
    "trace_id",
    *_TRACE_FIELDS,
    "created_at",
    "updated_at",
    "ts",
    "latency_ms",
    "observation_count",
    "has_error",
    "has_tool_error",
    "input_tokens",
    "output_tokens",
    "tool_calls",
)
_TRACE_UPSERT = _upsert_sql(
    "obs_traces", _TRACE_WRITE_COLUMNS, key=("tenant_id", "trace_id"), keep=("created_at",)
)


def _write_trace(
    conn: sqlite3.Connection,
    tenant_id: int,
    trace: TraceRecord,
    created_at: str,
    now: str,
) -> None:
    count, tokens_in, tokens_out, tools, errors, tool_errors, first, last = conn.execute(
        _TRACE_TOTALS, (tenant_id, trace.trace_id)
    ).fetchone()
    trace_latency, started = _trace_latency(trace, first, last)
    has_error = trace.level == ERROR_LEVEL or errors > 0 or _is_error_output(trace.output)
    values = {
        "tenant_id": tenant_id,
        "trace_id": trace.trace_id,
        **_encoded(trace, _TRACE_FIELDS),
        "incomplete": int(bool(trace.incomplete)),
        "dropped_spans": trace.dropped_spans or 0,
        "created_at": created_at,
        "updated_at": now,
        "ts": started or created_at,
        "latency_ms": trace_latency,
        "observation_count": count,
        "has_error": int(has_error),
        "has_tool_error": int(tool_errors > 0),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "tool_calls": tools,
    }
    conn.execute(_TRACE_UPSERT, tuple(values[column] for column in _TRACE_WRITE_COLUMNS))


_TRACE_RECORD_SELECT = (
    f"SELECT {', '.join(_TRACE_FIELDS)}, created_at FROM obs_traces "  # noqa: S608
    "WHERE tenant_id = ? AND trace_id = ?"
)
_OBS_COLUMNS = "observation_id, seq, " + ", ".join(_OBS_FIELDS)
"""An observation row as read back: its id, its arrival ``seq``, then its record fields."""


def _read_trace_record(
    conn: sqlite3.Connection, tenant_id: int, trace_id: str
) -> tuple[TraceRecord | None, str | None]:
    row = conn.execute(_TRACE_RECORD_SELECT, (tenant_id, trace_id)).fetchone()
    if row is None:
        return None, None
    values = _decoded(_TRACE_FIELDS, row[:-1])
    values["incomplete"] = bool(values["incomplete"])
    return TraceRecord(trace_id=trace_id, **values), row[-1]


def _observation_from_row(row: Sequence[Any]) -> ObservationRecord:
    """An ``_OBS_COLUMNS`` row as a record (``seq`` is the caller's)."""
    return ObservationRecord(id=row[0], **_decoded(_OBS_FIELDS, row[2:]))


def _read_observation_rows(
    conn: sqlite3.Connection, tenant_id: int, trace_id: str, ids: Sequence[str]
) -> dict[str, _ObsRow]:
    """The stored rows among ``ids`` (only these are merged and rewritten)."""
    found: dict[str, _ObsRow] = {}
    unique = list(dict.fromkeys(ids))
    for offset in range(0, len(unique), _ID_CHUNK):
        chunk = unique[offset : offset + _ID_CHUNK]
        marks = ", ".join("?" for _ in chunk)  # placeholders only; the ids are parameters
        cursor = conn.execute(
            f"SELECT {_OBS_COLUMNS} FROM obs_observations "  # noqa: S608
            f"WHERE tenant_id = ? AND trace_id = ? AND observation_id IN ({marks})",
            (tenant_id, trace_id, *chunk),
        )
        found.update((row[0], _ObsRow(_observation_from_row(row), row[1])) for row in cursor)
    return found


# --- reads -------------------------------------------------------------------------------------

_SUMMARY_COLUMNS = """trace_id, name, user_id, session_id, metadata, tags, created_at, output,
    input, start_time, end_time, ts, latency_ms, observation_count, has_error, input_tokens,
    output_tokens, tool_calls, incomplete, dropped_spans, level, status_message"""


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    """A trace summary: the reference's ObservabilityTrace keys plus documented extras."""
    return {
        "id": row[0],
        "name": row[1],
        "user_id": row[2],
        "session_id": row[3],
        "metadata": load_doc(row[4]),
        "tags": load_doc(row[5]) or [],
        "created_at": row[6],
        "output": load_doc(row[7]),
        "input": load_doc(row[8]),
        "start_time": row[9] or row[11],
        "end_time": row[10],
        "latency_ms": row[12],
        "observation_count": row[13],
        "has_error": bool(row[14]),
        "input_tokens": row[15],
        "output_tokens": row[16],
        "total_tokens": row[15] + row[16],
        "tool_calls": row[17],
        "incomplete": bool(row[18]),
        "dropped_spans": row[19],
        "level": row[20],
        "status_message": row[21],
    }


def _page(
    conn: sqlite3.Connection, where: str, params: Sequence[Any], limit: int, page: int
) -> tuple[list[dict[str, Any]], int]:
    # ``where`` is always one of this module's constant clauses; values go in ``params``.
    total = conn.execute(f"SELECT COUNT(*) FROM obs_traces WHERE {where}", params).fetchone()[0]  # noqa: S608
    cursor = conn.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM obs_traces WHERE {where} "  # noqa: S608
        "ORDER BY ts DESC, created_at DESC, trace_id DESC LIMIT ? OFFSET ?",
        (*params, limit, (page - 1) * limit),
    )
    return [_summary(row) for row in cursor], int(total)


def list_traces(
    conn: sqlite3.Connection,
    tenant_id: int,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    limit: int = 50,
    page: int = 1,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the tenant's trace summaries, newest first, and the total that match."""
    where, params = "tenant_id = ?", [tenant_id]
    if user_id is not None:
        where += " AND user_id = ?"
        params.append(user_id)  # type: ignore[arg-type]
    if session_id is not None:
        where += " AND session_id = ?"
        params.append(session_id)  # type: ignore[arg-type]
    return _page(conn, where, params, limit, page)


def list_error_traces(
    conn: sqlite3.Connection,
    tenant_id: int,
    *,
    since: str,
    tools_only: bool,
    limit: int,
    page: int,
) -> tuple[list[dict[str, Any]], int]:
    """Traces since ``since`` with an ERROR observation (or, ``tools_only``, a failed tool)."""
    flag = "has_tool_error" if tools_only else "has_error"
    return _page(conn, f"tenant_id = ? AND ts >= ? AND {flag} = 1", (tenant_id, since), limit, page)


def get_trace(conn: sqlite3.Connection, tenant_id: int, trace_id: str) -> dict[str, Any] | None:
    """The full trace, or ``None`` for this tenant. Observations come by start time, ties (and
    unparseable times, last) in arrival order: the published client's creation order, and
    chronological order for OTLP batches, which list spans as they ended."""
    row = conn.execute(
        f"SELECT {_SUMMARY_COLUMNS}, root_observation_id FROM obs_traces "  # noqa: S608
        "WHERE tenant_id = ? AND trace_id = ?",
        (tenant_id, trace_id),
    ).fetchone()
    if row is None:
        return None
    trace = _summary(row)
    root_id = row[-1]
    cursor = conn.execute(
        f"SELECT {_OBS_COLUMNS} FROM obs_observations "  # noqa: S608
        "WHERE tenant_id = ? AND trace_id = ? ORDER BY start_ts IS NULL, start_ts, seq",
        (tenant_id, trace_id),
    )
    trace["observations"] = [_observation_dict(_observation_from_row(r), root_id) for r in cursor]
    return trace


def _observation_dict(obs: ObservationRecord, root_id: str | None) -> dict[str, Any]:
    parent = obs.parent_observation_id
    return {
        "id": obs.id,
        "name": obs.name,
        "type": obs.type,
        "parent_observation_id": None if root_id is not None and parent == root_id else parent,
        "input": obs.input,
        "output": obs.output,
        "metadata": obs.metadata,
        "model": obs.model,
        "usage": obs.usage,
        "level": obs.level,
        "status_message": obs.status_message,
        "start_time": obs.start_time,
        "end_time": obs.end_time,
    }


def trace_exists_for_other_tenant(conn: sqlite3.Connection, tenant_id: int, trace_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM obs_traces WHERE trace_id = ? AND tenant_id != ? LIMIT 1",
        (trace_id, tenant_id),
    ).fetchone()
    return row is not None


def analytics(conn: sqlite3.Connection, tenant_id: int, *, since: str) -> dict[str, Any]:
    """Overview, per-tool and per-model numbers over the tenant's traces since ``since``."""
    traces = conn.execute(
        """SELECT latency_ms, has_error, input_tokens, output_tokens, tool_calls, user_id,
                  session_id
           FROM obs_traces WHERE tenant_id = ? AND ts >= ?""",
        (tenant_id, since),
    ).fetchall()
    latencies = [r[0] for r in traces if r[0] is not None]
    errors = sum(r[1] for r in traces)
    overview = {
        "total_traces": len(traces),
        "avg_latency_ms": mean(latencies),
        "p95_latency_ms": percentile(latencies, 0.95),
        "total_input_tokens": sum(r[2] for r in traces),
        "total_output_tokens": sum(r[3] for r in traces),
        "error_rate": ratio(errors, len(traces)),
        "error_count": errors,
        "total_tool_calls": sum(r[4] for r in traces),
        "unique_users": len({r[5] for r in traces if r[5] is not None}),
        "unique_sessions": len({r[6] for r in traces if r[6] is not None}),
    }
    return {
        "overview": overview,
        "tool_performance": _tool_performance(conn, tenant_id, since),
        "model_usage": _model_usage(conn, tenant_id, since),
    }


def _window_groups(
    conn: sqlite3.Connection, tenant_id: int, since: str, condition: str, columns: str
) -> dict[str, list[Sequence[Any]]]:
    """Observations of the window's traces matching ``condition``, grouped by the first of
    ``columns`` in first-seen order. Both are constants from the callers below."""
    cursor = conn.execute(
        f"SELECT {columns} FROM obs_observations o JOIN obs_traces t "  # noqa: S608
        "ON t.tenant_id = o.tenant_id AND t.trace_id = o.trace_id "
        f"WHERE o.tenant_id = ? AND t.ts >= ? AND {condition}",
        (tenant_id, since),
    )
    grouped: dict[str, list[Sequence[Any]]] = {}
    for row in cursor:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def _tool_performance(conn: sqlite3.Connection, tenant_id: int, since: str) -> list[dict[str, Any]]:
    grouped = _window_groups(
        conn, tenant_id, since, "o.tool_name IS NOT NULL", "o.tool_name, o.level, o.latency_ms"
    )
    result: list[dict[str, Any]] = []
    for name, calls in grouped.items():
        errors = sum(1 for c in calls if c[1] == ERROR_LEVEL)
        timings = [c[2] for c in calls if c[2] is not None]
        result.append(
            {
                "tool_name": name,
                "calls": len(calls),
                "errors": errors,
                "error_rate": ratio(errors, len(calls)),
                "avg_latency_ms": mean(timings),
                "p95_latency_ms": percentile(timings, 0.95),
            }
        )
    result.sort(key=lambda item: (-item["calls"], item["tool_name"]))
    return result


def _model_usage(conn: sqlite3.Connection, tenant_id: int, since: str) -> list[dict[str, Any]]:
    grouped = _window_groups(
        conn,
        tenant_id,
        since,
        "o.type = 'generation' AND o.model IS NOT NULL",
        "o.model, o.input_tokens, o.output_tokens, o.latency_ms, o.level",
    )
    result: list[dict[str, Any]] = []
    for model, calls in grouped.items():
        tokens_in = sum(c[1] for c in calls)
        tokens_out = sum(c[2] for c in calls)
        result.append(
            {
                "model": model,
                "calls": len(calls),
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
                "avg_latency_ms": mean(c[3] for c in calls if c[3] is not None),
                "errors": sum(1 for c in calls if c[4] == ERROR_LEVEL),
            }
        )
    result.sort(key=lambda item: (-item["calls"], item["model"]))
    return result

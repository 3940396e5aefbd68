"""The trace store's merge rule under Hypothesis (in-process SQLite): any sequence of sends of
one trace leaves each observation once, holding the last value sent for each field (F10, F57)."""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ashr_labs.server import _trace_store as store
from tests.support import hypothesis_profile  # noqa: F401 - loads the "ci" profile

IDS = [f"{i:016x}" for i in range(1, 6)]
CONN = sqlite3.connect(":memory:")
CONN.executescript(store.SCHEMA)
_trace_numbers = itertools.count(1)
FIELDS = ("name", "input", "output", "level", "model", "end_time")

_values = {
    "name": st.sampled_from(["a", "b", "tool:x"]),
    "input": st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)),
    "output": st.dictionaries(st.sampled_from(["k", "v"]), st.integers(), max_size=2),
    "level": st.sampled_from(["ERROR", "DEFAULT", "WARNING"]),
    "model": st.sampled_from(["m1", "m2"]),
    "end_time": st.sampled_from(["2026-01-01T00:00:01Z", "2026-01-01T00:00:02.5Z"]),
}


@st.composite
def sends(draw: Any) -> list[list[dict[str, Any]]]:
    """Up to 6 sends; each carries some observations, each with some fields present."""
    result = []
    for _ in range(draw(st.integers(1, 6))):
        send = []
        for obs_id in draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS))):
            present = draw(st.lists(st.sampled_from(FIELDS), unique=True))
            send.append({"id": obs_id, **{f: draw(_values[f]) for f in present}})
        result.append(send)
    return result


def _normal(field: str, value: Any) -> Any:
    if field == "end_time" and value is not None:
        return {"2026-01-01T00:00:01Z": "2026-01-01T00:00:01.000000Z"}.get(
            value, "2026-01-01T00:00:02.500000Z"
        )
    return value


@given(history=sends())
def test_any_send_sequence_merges_to_last_present_values(history: list[list[dict[str, Any]]]):
    """Model: per observation, a field holds the last non-absent value sent; ids appear once;
    trace totals (count, tokens-free tools, errors) agree with the model."""
    conn, trace_id = CONN, f"{next(_trace_numbers):032x}"
    model: dict[str, dict[str, Any]] = {}
    for send in history:
        records = [
            store.ObservationRecord(type="span", start_time="2026-01-01T00:00:00Z", **item)
            for item in send
        ]
        store.upsert_trace(conn, 7, store.TraceRecord(trace_id=trace_id), records)
        for item in send:
            model.setdefault(item["id"], {}).update(item)

    trace = store.get_trace(conn, 7, trace_id)
    assert trace is not None
    got = {o["id"]: o for o in trace["observations"]}
    assert sorted(got) == sorted(model) and len(trace["observations"]) == len(model)
    for obs_id, fields in model.items():
        for field in FIELDS:
            assert got[obs_id][field] == _normal(field, fields.get(field)), (obs_id, field)
    assert trace["observation_count"] == len(model)
    assert trace["has_error"] == any(f.get("level") == "ERROR" for f in model.values())
    tools = [f for f in model.values() if f.get("name") == "tool:x"]
    assert trace["tool_calls"] == len(tools)
    # A second tenant never sees these rows.
    assert store.get_trace(conn, 8, trace_id) is None
    assert store.trace_exists_for_other_tenant(conn, 8, trace_id)

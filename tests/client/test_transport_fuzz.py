"""F42 under Hypothesis: mutated versions of valid replies (bytes cut, bytes changed, keys
dropped, values swapped, statuses changed) give a dict or an ``AshrLabsError`` subclass, never a
raw ``JSONDecodeError``, ``AttributeError``, ``KeyError`` or ``UnicodeDecodeError``, and the
client keeps working afterwards."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401 - registers and loads the CI profile
from ashr_labs import AshrLabsClient, AshrLabsError
from tests.support.scripted_backend import Received, ScriptedBackend, Step

KEY = "tp_fuzz_canary_5a1b"
VALID_RUN = {
    "status": "ok",
    "run": {
        "id": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "dataset": 2,
        "tenant": 3,
        "result": {"tests": [], "aggregate_metrics": {"tests_passed": 1}},
        "grading_status": "completed",
    },
}
STATUSES = [200, 201, 202, 204, 299, 400, 401, 403, 404, 409, 418, 422, 429, 500, 502, 503]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    doc: Any = json.loads(json.dumps(VALID_RUN))
    kind = draw(st.sampled_from(["drop", "swap", "truncate", "bytes", "top"]))
    if kind == "drop":
        target = draw(st.sampled_from([doc, doc["run"], doc["run"]["result"]]))
        if target:
            target.pop(draw(st.sampled_from(sorted(target))))
    elif kind == "swap":
        key = draw(st.sampled_from(["status", "run", "message"]))
        doc[key] = draw(json_values)
    elif kind == "top":
        doc = draw(json_values)
    raw = json.dumps(doc).encode()
    if kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif kind == "bytes":
        index = draw(st.integers(0, len(raw) - 1))
        raw = raw[:index] + draw(st.binary(min_size=1, max_size=3)) + raw[index + 1 :]
    return raw


def test_f42_mutated_replies_are_always_typed() -> None:
    """Any mutation of a valid get_run reply yields a run or a typed AshrLabsError."""
    current: dict[str, Step] = {}

    def respond(received: Received) -> Step:
        if received.function == "keep_alive":
            return Step()
        return current["step"]

    with ScriptedBackend(respond) as backend:
        client = AshrLabsClient(KEY, backend.url, timeout=5, max_retries=0)

        @given(body=mutated_bodies(), status=st.sampled_from(STATUSES))
        def check(body: bytes, status: int) -> None:
            current["step"] = Step(status, body=body)
            try:
                run = client.get_run(1)
            except AshrLabsError as exc:
                assert exc.message
                assert exc.status_code is None or exc.status_code >= 200
            else:
                assert isinstance(run, dict)
            assert client.health_check() == {"status": "ok"}

        check()
        client.close()

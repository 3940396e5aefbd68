"""The retry policy's pure parts: Retry-After parsing, full-jitter backoff, read-only functions,
and the envelope encoder's refusals."""

from __future__ import annotations

import email.utils
import random

import pytest

from ashr_labs import ConfigurationError
from ashr_labs._http import encode_request
from ashr_labs._retry import Deadline, backoff_delay, is_read_only, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-1", None),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Mon, 99 Foo 2026 00:00:00 GMT", None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    """Seconds and HTTP-dates are understood; anything malformed is ignored (None)."""
    assert parse_retry_after(value, now=NOW) == expected


def test_backoff_is_full_jitter_under_a_growing_cap() -> None:
    """Each wait lies in [0, min(max, base * 2**attempt)] and uses the whole range."""
    rng = random.Random(7)
    for attempt, cap in [(0, 0.25), (1, 0.5), (3, 2.0), (10, 8.0), (1000, 8.0)]:
        waits = [backoff_delay(attempt, 0.25, 8.0, rng) for _ in range(200)]
        assert all(0 <= w <= cap for w in waits)
        assert max(waits) > cap * 0.8 and min(waits) < cap * 0.2


@pytest.mark.parametrize(
    ("function", "read_only"),
    [
        ("init", True),
        ("keep_alive", True),
        ("get_run", True),
        ("list_agents", True),
        ("get_sdk_notes", True),
        ("create_run", False),
        ("delete_run", False),
        ("revoke_api_key", False),
        ("set_dataset_agent", False),
        ("ingest_observability_trace", False),
    ],
)
def test_read_only_functions(function: str, read_only: bool) -> None:
    """Only functions that change nothing may be resent without an idempotency key."""
    assert is_read_only(function) is read_only


def test_deadline_allows_only_waits_that_fit() -> None:
    """A wait that would pass the deadline is refused."""
    deadline = Deadline.after(1.0)
    assert deadline.allows(0.5)
    assert not deadline.allows(2.0)
    assert not Deadline.after(-1).allows(0)
    assert Deadline.after(-1).expired()


def test_envelope_puts_function_first_and_refuses_reserved_names() -> None:
    """The envelope is {"function", **params}; reserved or odd inputs are refused by name."""
    assert encode_request("get_run", {"run_id": 1}, None) == b'{"function": "get_run", "run_id": 1}'
    assert encode_request("x", None, "k") == b'{"function": "x", "idempotency_key": "k"}'
    assert encode_request("x", {"t": "caf\u00e9"}, None) == b'{"function": "x", "t": "caf\\u00e9"}'
    with pytest.raises(ConfigurationError, match="params: 'function' is reserved"):
        encode_request("x", {"function": "y"}, None)
    with pytest.raises(ConfigurationError, match="params: expected a mapping"):
        encode_request("x", [("a", 1)], None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="function: expected a non-empty str"):
        encode_request("", {}, None)
    with pytest.raises(ConfigurationError, match=r"a\.b: expected string keys"):
        encode_request("x", {"a": {"b": {(1, 2): 3}}}, None)

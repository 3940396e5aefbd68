"""ISO 8601 parsing for the schema-aware comparator reads the same strings on Python 3.10 as on
3.11+ (``requires-python`` claims 3.10; 3.10's ``fromisoformat`` reads only the extended form)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest

from ashr_labs._matching._iso import extended_form, parse_iso_datetime

PLUS_ONE = timezone(timedelta(hours=1))
# What Python 3.11's datetime.fromisoformat returns for each (checked against it below on 3.11+).
FORMS = [
    ("20240115", datetime(2024, 1, 15)),
    ("2024-01-15", datetime(2024, 1, 15)),
    ("2024-01-15T10", datetime(2024, 1, 15, 10)),
    ("2024-01-15T1000", datetime(2024, 1, 15, 10)),
    ("2024-01-15 10:00", datetime(2024, 1, 15, 10)),
    ("20240115T100000", datetime(2024, 1, 15, 10)),
    ("20240115T100000+0100", datetime(2024, 1, 15, 10, tzinfo=PLUS_ONE)),
    ("2024-01-15T10:00:00+01", datetime(2024, 1, 15, 10, tzinfo=PLUS_ONE)),
    ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
    ("2024-01-15T10:00:00.1", datetime(2024, 1, 15, 10, 0, 0, 100000)),
    ("2024-01-15T10:00:00,5", datetime(2024, 1, 15, 10, 0, 0, 500000)),
    ("2024-01-15T10:00:00.1234567", datetime(2024, 1, 15, 10, 0, 0, 123456)),
    ("2024-W03-1", datetime(2024, 1, 15)),
    ("2024W031", datetime(2024, 1, 15)),
    ("2024-W03", datetime(2024, 1, 15)),
]
NOT_DATES = ["not a date", "2024-13-01", "2024-01-32", "2024011", "2024-0115", "2024-01-15T25"]


@pytest.mark.parametrize(("text", "expected"), FORMS)
def test_extended_form_reads_like_python_311(text: str, expected: datetime) -> None:
    """Each 3.11-readable form is rewritten to one every Python reads, to the same instant."""
    assert datetime.fromisoformat(extended_form(text)) == expected
    assert parse_iso_datetime(text) == expected
    if sys.version_info >= (3, 11):
        assert datetime.fromisoformat(text) == expected


@pytest.mark.parametrize("text", NOT_DATES)
def test_not_iso_dates_raise_value_error(text: str) -> None:
    """Strings that are not ISO 8601 dates raise ValueError, as fromisoformat does."""
    with pytest.raises(ValueError):
        parse_iso_datetime(text)
    with pytest.raises(ValueError):
        datetime.fromisoformat(extended_form(text))

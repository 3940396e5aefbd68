"""``datetime.fromisoformat`` with Python 3.11's grammar on Python 3.10 too.

3.10 reads only the extended form ``isoformat()`` writes. 3.11 added the basic (compact) forms
(``20240115T100000``), week dates (``2024-W03-1``), fractions of any length, ``,`` as the
decimal sign and short offsets (``+01``, ``+0100``). Tool arguments carry all of these, and
whether two of them compare equal must not depend on the Python the comparison runs on.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime

__all__ = ["parse_iso_datetime"]

_ISO = re.compile(
    r"(?P<year>\d{4})"
    r"(?:(?P<dash>-?)(?P<month>\d{2})(?P=dash)(?P<day>\d{2})"
    r"|-?W(?P<week>\d{2})(?:-?(?P<weekday>\d))?)"
    r"(?:[^\d]"
    r"(?P<hour>\d{2})(?:(?P<colon>:?)(?P<minute>\d{2})"
    r"(?:(?P=colon)(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?"
    r"(?P<offset>[zZ]|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?)?"
)


def parse_iso_datetime(text: str) -> datetime:
    """``datetime.fromisoformat(text)`` as Python 3.11 reads it.

    Raises:
        ValueError: ``text`` is not an ISO 8601 date or date-time.
    """
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        if sys.version_info >= (3, 11):
            raise
    return datetime.fromisoformat(extended_form(text))


def extended_form(text: str) -> str:
    """``text`` rewritten in the extended form every Python's ``fromisoformat`` reads."""
    found = _ISO.fullmatch(text)
    if found is None:
        raise ValueError(f"Invalid isoformat string: {text!r}")
    part = found.groupdict()
    year = int(part["year"])
    if part["week"] is not None:
        day = date.fromisocalendar(year, int(part["week"]), int(part["weekday"] or 1))
    else:
        day = date(year, int(part["month"]), int(part["day"]))
    out = day.isoformat()
    if part["hour"] is None:
        return out
    out += f"T{part['hour']}:{part['minute'] or '00'}:{part['second'] or '00'}"
    if part["fraction"]:
        out += "." + part["fraction"][:6].ljust(6, "0")
    offset = part["offset"]
    if offset in ("z", "Z"):
        out += "+00:00"
    elif offset:
        digits = offset[1:].replace(":", "")
        out += f"{offset[0]}{digits[:2]}:{digits[2:4] or '00'}"
        out += f":{digits[4:6]}" if digits[4:6] else ""
    return out

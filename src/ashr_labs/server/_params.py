"""Declared RPC parameters: the schema the dispatcher checks each body against (F55).

An RPC registered with ``@rpc(name, params=(...))`` gets its body checked before the handler
runs; the handler reads the checked, defaulted values from ``ctx.params``. The same
declarations drive the table-driven fault tests, so the tests and the server cannot drift.
Messages come from ``_validate`` (``<field>: expected <what>, got <value>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._validate import (
    INT64_MAX,
    MISSING,
    fail,
    opt_bool,
    req_int,
    req_list,
    req_obj,
    req_str,
)

__all__ = [
    "CURSOR",
    "LIMIT",
    "TENANT_ID",
    "URL_OPTIONS",
    "Param",
    "opt_id",
    "read_params",
    "req_id",
]

Kind = Literal["int", "str", "bool", "object", "array"]


@dataclass(frozen=True)
class Param:
    """One body key: its JSON kind, whether it must be present, and its bounds.

    ``required`` keys must be present; ``nullable`` lets a required key be ``null``
    (``create_run``'s ``dataset_id``). Absent or null optional keys give ``default``.
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = False
    lo: int = 1
    hi: int = INT64_MAX
    max_len: int = 1000
    min_len: int = 0
    choices: tuple[str, ...] | None = None
    default: Any = None

    def read(self, body: Mapping[str, Any]) -> Any:
        """The checked value (or the default); raises the 422 naming this key."""
        value = body.get(self.name, MISSING)
        if value is MISSING or value is None:
            if not self.required or (value is None and self.nullable):
                return None if value is None and self.nullable else self.default
            raise fail(self.name, self.expected(), value)
        if self.kind == "int":
            return req_int(body, self.name, lo=self.lo, hi=self.hi)
        if self.kind == "str":
            return req_str(
                body, self.name, max_len=self.max_len, min_len=self.min_len, choices=self.choices
            )
        if self.kind == "bool":
            return opt_bool(body, self.name)
        if self.kind == "object":
            return req_obj(body, self.name)
        return req_list(body, self.name, max_len=self.max_len)

    def expected(self) -> str:
        """What a valid value looks like, as the 422 message says it."""
        text = {
            "int": f"an integer {self.lo}–{self.hi}",
            "str": "a non-empty string" if self.min_len else "a string",
            "bool": "a boolean",
            "object": "an object",
            "array": "an array",
        }[self.kind]
        if self.choices is not None:
            text = "one of " + ", ".join(sorted(self.choices))
        return text + (" or null" if self.nullable else "")


def req_id(name: str, *, nullable: bool = False) -> Param:
    """A required positive 64-bit id."""
    return Param(name, "int", required=True, nullable=nullable)


def opt_id(name: str) -> Param:
    """An optional positive 64-bit id (absent or null → None)."""
    return Param(name, "int")


TENANT_ID = opt_id("tenant_id")
"""The optional ``tenant_id`` of tenant-scoped calls (``_common.resolve_tenant`` checks it)."""
CURSOR = opt_id("cursor")
LIMIT = Param("limit", "int", lo=1, hi=1000, default=50)
URL_OPTIONS = (
    Param("include_signed_urls", "bool", default=False),
    Param("url_expires_seconds", "int", lo=1, hi=7 * 24 * 3600, default=3600),
)
"""Accepted on dataset reads; there is no object store here, so no signed URLs are added."""


def read_params(body: Mapping[str, Any], params: Sequence[Param]) -> dict[str, Any]:
    """Check ``body`` against ``params`` in order; returns name → checked value."""
    return {p.name: p.read(body) for p in params}

"""Every RPC and raw-route module, imported for its registrations (one line per module)."""

from __future__ import annotations

from . import (
    agents,  # noqa: F401
    api_keys,  # noqa: F401
    datasets,  # noqa: F401
    notes,  # noqa: F401
    otlp,  # noqa: F401
    requests,  # noqa: F401
    runs,  # noqa: F401
    session,  # noqa: F401
    traces,  # noqa: F401
)

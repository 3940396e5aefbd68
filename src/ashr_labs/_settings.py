"""Environment variables read by the SDK, one constant each, and their documented defaults.

Every other module reads configuration through these names, never through bare strings.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.ashr.io/testing-platform-api"
"""The hosted Ashr API, used when neither ``base_url`` nor ``ASHR_LABS_BASE_URL`` is given."""

ASHR_LABS_API_KEY = "ASHR_LABS_API_KEY"
"""API key (``tp_...``). Required by ``AshrLabsClient.from_env`` and by zero-code tracing."""

ASHR_LABS_BASE_URL = "ASHR_LABS_BASE_URL"
"""Base URL of the Ashr API; point it at ``ashr-labs serve`` (``http://127.0.0.1:PORT``)."""

ASHR_LABS_TIMEOUT = "ASHR_LABS_TIMEOUT"
"""Per-call deadline in seconds for zero-code tracing (the constructor's ``timeout`` elsewhere)."""

ASHR_LABS_CA_BUNDLE = "ASHR_LABS_CA_BUNDLE"
"""Path to a CA bundle used to verify the server's TLS certificate."""

ASHR_LABS_ALLOW_INSECURE = "ASHR_LABS_ALLOW_INSECURE"
"""Set to ``1`` to allow sending the key over plain ``http://`` to a host that is not loopback."""

ASHR_LABS_TRACING_ENABLED = "ASHR_LABS_TRACING_ENABLED"
"""``0`` / ``false`` turns all tracing into no-ops (``OTEL_SDK_DISABLED=true`` does too)."""

ASHR_LABS_CAPTURE_CONTENT = "ASHR_LABS_CAPTURE_CONTENT"
"""``0`` / ``false`` keeps inputs, outputs, prompts and completions out of exported spans."""

ASHR_LABS_STRICT = "ASHR_LABS_STRICT"
"""``1`` re-raises internal tracing errors instead of logging them (the test suite does)."""

ASHR_LABS_LLM_BASE_URL = "ASHR_LABS_LLM_BASE_URL"
"""Local server: an OpenAI-compatible endpoint for LLM-backed dataset generation and judging."""

ASHR_LABS_LLM_API_KEY = "ASHR_LABS_LLM_API_KEY"
"""Local server: the key for ``ASHR_LABS_LLM_BASE_URL``."""

ASHR_LABS_LLM_MODEL = "ASHR_LABS_LLM_MODEL"
"""Local server: the model name used with ``ASHR_LABS_LLM_BASE_URL`` (default ``gpt-4o-mini``)."""

ASHR_LABS_DATA_DIR = "ASHR_LABS_DATA_DIR"
"""Local server: folder holding the SQLite database (default ``~/.ashr-labs``)."""

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})


def env_flag(value: str | None, default: bool) -> bool:
    """Read a boolean environment value; anything unrecognised gives ``default``."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    return default

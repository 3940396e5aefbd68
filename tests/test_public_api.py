"""The public surface: every name the API reference documents is importable from ``ashr_labs``,
``__all__`` is sorted and complete, and importing the package pulls in no LLM library or server."""

from __future__ import annotations

import subprocess
import sys

import ashr_labs

API_REFERENCE_NAMES = [
    # client and errors
    "AshrLabsClient",
    "AshrLabsError",
    "AuthenticationError",
    "AuthorizationError",
    "NotFoundError",
    "ValidationError",
    "RateLimitError",
    "ServerError",
    # observability
    "Trace",
    "Span",
    "Generation",
    # testing platform
    "RunBuilder",
    "TestBuilder",
    "EvalRunner",
    "Agent",
    "strip_markdown",
    "tokenize",
    "fuzzy_str_match",
    "extract_tool_args",
    "compare_tool_args",
    "compare_args_structural",
    "text_similarity",
    # data types
    "User",
    "Tenant",
    "Session",
    "Dataset",
    "Run",
    "ObservabilityTrace",
    "ObservabilityObservation",
    "SdkNote",
    "Request",
    "APIKey",
    "ToolCall",
    "ExpectedResponse",
    "Action",
    "Scenario",
    "AgentConfig",
    "ToolDefinition",
    "BehaviorRule",
    "GradingConfig",
    "AgentResponse",
]


def test_every_api_reference_name_is_importable() -> None:
    """Each class, function and type the API reference names is an attribute of ``ashr_labs``."""
    missing = [name for name in API_REFERENCE_NAMES if not hasattr(ashr_labs, name)]
    assert missing == []


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted, unique, and lists every documented name."""
    assert ashr_labs.__all__ == sorted(set(ashr_labs.__all__))
    assert set(API_REFERENCE_NAMES) <= set(ashr_labs.__all__)
    for name in ashr_labs.__all__:
        assert hasattr(ashr_labs, name), name


def test_import_pulls_in_no_llm_library_or_server() -> None:
    """``import ashr_labs`` never imports openai, anthropic or the local server (DESIGN.md §1)."""
    code = (
        "import sys, ashr_labs; "
        "bad = [m for m in ('openai', 'anthropic', 'ashr_labs.server') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""


def test_agent_protocol_is_runtime_checkable() -> None:
    """``isinstance(obj, Agent)`` works for any object with ``respond`` and ``reset``."""

    class Echo:
        def respond(self, message: str) -> dict[str, object]:
            return {"text": message, "tool_calls": []}

        def reset(self) -> None:
            return None

    assert isinstance(Echo(), ashr_labs.Agent)
    assert not isinstance(object(), ashr_labs.Agent)


def test_client_tracing_keywords_match_tracing_options() -> None:
    """Every ``TracingOptions`` field is a typed keyword of ``AshrLabsClient``, and only those."""
    import dataclasses

    from ashr_labs._client import TracingKwargs

    fields = {f.name for f in dataclasses.fields(ashr_labs.TracingOptions)}
    assert set(TracingKwargs.__annotations__) == fields

"""Ashr Labs SDK: trace AI agents on OpenTelemetry and evaluate them against generated datasets.

Every public name lives here. Importing ``ashr_labs`` never imports ``openai``, ``anthropic`` or
the local server.
"""

from __future__ import annotations

from ._errors import (
    AshrLabsError,
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)
from ._version import __version__

# --- section: types (owner: client) ---
from ._types import Agent as AgentResponse
from ._types import (
    APIKey,
    Action,
    AgentConfig,
    BehaviorRule,
    Dataset,
    ExpectedResponse,
    GradingConfig,
    ObservabilityObservation,
    ObservabilityTrace,
    Request,
    Run,
    Scenario,
    SdkNote,
    Session,
    Tenant,
    ToolCall,
    ToolDefinition,
    User,
)
# --- end section: types ---

# --- section: client (owner: client) ---
from ._client import AshrLabsClient
# --- end section: client ---

# --- section: testing (owner: testing) ---
# `X as X`: an explicit re-export for mypy, which cannot read the computed __all__ below.
from .testing import (
    Agent as Agent,
    AsyncAgent as AsyncAgent,
    EvalRunner as EvalRunner,
    RunBuilder as RunBuilder,
    TestBuilder as TestBuilder,
    compare_args_structural as compare_args_structural,
    compare_tool_args as compare_tool_args,
    extract_tool_args as extract_tool_args,
    fuzzy_str_match as fuzzy_str_match,
    strip_markdown as strip_markdown,
    text_similarity as text_similarity,
    tokenize as tokenize,
)
# --- end section: testing ---

# --- section: observability (owner: observability) ---
from .observability import (
    AshrSpanExporter,
    Generation,
    Span,
    Trace,
    TracingOptions,
    context_executor,
    observe,
    prepare_value,
    update_current_trace,
    wrap_context,
)
from ._instrument import instrument, uninstrument  # instrument (H7)
# --- end section: observability ---

__all__ = sorted(
    [
        "AshrLabsError",
        "AuthenticationError",
        "AuthorizationError",
        "ConfigurationError",
        "NotFoundError",
        "RateLimitError",
        "RequestTimeoutError",
        "ServerError",
        "TransportError",
        "ValidationError",
        "WaitTimeoutError",
        "__version__",
        # --- section: __all__ (each owner adds its names on their own lines) ---
        "AgentResponse",
        "AshrLabsClient",
        "APIKey",
        "Action",
        "AgentConfig",
        "BehaviorRule",
        "Dataset",
        "ExpectedResponse",
        "GradingConfig",
        "ObservabilityObservation",
        "ObservabilityTrace",
        "Request",
        "Run",
        "Scenario",
        "SdkNote",
        "Session",
        "Tenant",
        "ToolCall",
        "ToolDefinition",
        "User",
        "Agent",
        "AsyncAgent",
        "EvalRunner",
        "RunBuilder",
        "TestBuilder",
        "compare_args_structural",
        "compare_tool_args",
        "extract_tool_args",
        "fuzzy_str_match",
        "strip_markdown",
        "text_similarity",
        "tokenize",
        "AshrSpanExporter",
        "Generation",
        "Span",
        "Trace",
        "TracingOptions",
        "context_executor",
        "observe",
        "prepare_value",
        "update_current_trace",
        "wrap_context",
        "instrument",
        "uninstrument",
        # --- end section: __all__ ---
    ]
)

"""The API reference's "Data Types": TypedDicts describing what the server sends.

They are plain dicts at runtime. Keys the server adds beyond the reference (protocol.md §4.2:
``Dataset.request_id``, ``Run.grading_status``, ``Request.error``) are listed too, all optional.
The agent entity is exported as ``AgentResponse`` because ``Agent`` is the eval runner's Protocol.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "APIKey",
    "Action",
    "Agent",
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
]


class User(TypedDict, total=False):
    id: int
    created_at: str
    email: str
    name: str | None
    tenant: int
    is_active: bool


class Tenant(TypedDict, total=False):
    id: int
    created_at: str
    tenant_name: str
    is_active: bool


class Session(TypedDict):
    """What ``init()`` returns; the server also sends ``notes`` (a list of ``SdkNote``)."""

    status: str
    user: User
    tenant: Tenant


class Dataset(TypedDict, total=False):
    id: int
    created_at: str
    tenant: int
    creator: int
    name: str
    description: str | None
    agent_id: int | None
    agent_details: dict[str, Any] | None  # {"id": int, "name": str}
    dataset_source: dict[str, Any]
    request_id: int | None  # the generation request that produced it (protocol.md §2.2)


class Run(TypedDict, total=False):
    id: int
    created_at: str
    dataset: int
    tenant: int
    runner: int
    result: dict[str, Any]
    grading_status: str  # "pending", then "completed" or "failed" (protocol.md §4.7)
    grading_error: str | None  # why grading failed, when it did


class ObservabilityObservation(TypedDict, total=False):
    id: str
    name: str
    type: str  # "span", "generation", "event"
    parent_observation_id: str | None
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    metadata: dict[str, Any] | None
    model: str | None
    usage: dict[str, int] | None
    level: str | None  # "DEBUG", "DEFAULT", "WARNING", "ERROR"
    status_message: str | None
    start_time: str | None
    end_time: str | None


class ObservabilityTrace(TypedDict, total=False):
    id: str
    name: str
    user_id: str | None
    session_id: str | None
    metadata: dict[str, Any] | None
    tags: list[str]
    created_at: str | None
    output: dict[str, Any] | None
    observations: list[ObservabilityObservation]


class SdkNote(TypedDict, total=False):
    id: int
    created_at: str
    updated_at: str
    title: str
    content: str
    category: str  # "info", "warning", "breaking_change", "best_practice", "deprecation"
    severity: str  # "info", "warning", "critical"
    tenant_id: int | None
    agent_id: int | None
    active_from: str
    expires_at: str | None
    is_archived: bool
    note_metadata: dict[str, Any]


class Request(TypedDict, total=False):
    id: int
    created_at: str
    requestor_id: int
    requestor_tenant: int
    request_name: str
    request_status: str  # "pending", "processing", "completed", "failed"
    request_input_schema: dict[str, Any] | None
    request: dict[str, Any]
    error: str | None  # why generation failed (read by wait_for_request)


class APIKey(TypedDict, total=False):
    id: int
    key: str  # only present on creation
    key_prefix: str
    name: str
    scopes: list[str]
    user_id: int
    tenant_id: int
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    is_active: bool


class ToolCall(TypedDict, total=False):
    name: str
    arguments_json: str


class ExpectedResponse(TypedDict, total=False):
    tool_calls: list[ToolCall]
    text: str


class Action(TypedDict, total=False):
    actor: str  # "user", "agent" or "environment"; any other actor counts as user input
    content: str
    name: str
    expected_response: ExpectedResponse


class Scenario(TypedDict, total=False):
    title: str
    actions: list[Action]


class ToolDefinition(TypedDict, total=False):
    name: str
    description: str
    required: bool  # True = must be called, False = optional


class BehaviorRule(TypedDict, total=False):
    rule: str
    strictness: str  # "required" | "expected" | "optional"


class GradingConfig(TypedDict, total=False):
    tool_strictness: dict[str, str]  # tool name -> "required" | "expected" | "optional"
    text_similarity_threshold: float


class AgentConfig(TypedDict, total=False):
    form_data: dict[str, Any]  # dataset generation preset
    tool_definitions: list[ToolDefinition]
    behavior_rules: list[BehaviorRule]
    grading_config: GradingConfig


class Agent(TypedDict, total=False):
    """An agent as the server returns it; exported from ``ashr_labs`` as ``AgentResponse``."""

    id: int
    created_at: str
    tenant_id: int
    creator_id: int | None
    name: str
    description: str | None
    config: AgentConfig
    is_active: bool
    dataset_count: int

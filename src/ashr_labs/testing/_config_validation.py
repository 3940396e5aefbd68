"""Client-side checks and defaults for a dataset-generation config (protocol.md §3.4, §3.5).

Everything runs before any network traffic and raises ``ConfigurationError`` naming the field by
its path (``request.agent.accepted_inputs.audio: expected a bool or {"enabled": bool}, got 1``).
Where protocol.md §8 lists a disagreement, the API reference wins: ``accepted_inputs`` defaults to
text only, ``generation_options`` to all false, and ``expected_behaviors`` is accepted and sent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError

__all__ = [
    "PENTEST_CATEGORIES",
    "default_input_schema",
    "enrich_generation_config",
    "prepare_request_config",
    "validate_request_config",
]

PENTEST_CATEGORIES = frozenset(
    {
        "prompt_injection",
        "privilege_escalation",
        "data_exfiltration",
        "jailbreak",
        "tool_abuse",
        "denial_of_service",
        "social_engineering",
    }
)
_SECTIONS = (
    "metadata",
    "agent",
    "context",
    "test_config",
    "generation_options",
    "pentest_config",
    "expected_behaviors",
)
_AGENT_KEYS = (
    "name",
    "description",
    "system_prompt",
    "tools",
    "accepted_inputs",
    "output_format",
    "input_schema",
)
_INPUT_KINDS = ("text", "audio", "file", "image", "video", "conversation")
_CONTEXT_KEYS = ("domain", "use_case", "scenario_context", "user_persona", "sample_data")
_GENERATION_KEYS = (
    "scenario_count",
    "generate_audio",
    "generate_files",
    "generate_images",
    "generate_videos",
    "generate_simulations",
)
_DEFAULT_ACCEPTED_INPUTS = {"text": True}
_DEFAULT_GENERATION_OPTIONS = {
    "generate_audio": False,
    "generate_files": False,
    "generate_images": False,
    "generate_videos": False,
    "generate_simulations": False,
}
_DEFAULT_TEST_CONFIG = {
    "num_variations": 5,
    "coverage": {"happy_path": True, "edge_cases": True, "error_handling": True},
}


def _fail(path: str, expected: str, got: object) -> ConfigurationError:
    return ConfigurationError(f"{path}: expected {expected}, got {got!r}")


def _check_keys(section: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigurationError(
                f"{path}: unknown key {key!r}; expected one of {', '.join(allowed)}"
            )


def _section(config: Mapping[str, Any], name: str, path: str, *, required: bool) -> dict[str, Any]:
    value = config.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or (required and not value):
        kind = "a non-empty dict" if required else "a dict"
        raise _fail(f"{path}.{name}", kind, value)
    return value


def _check_agent(agent: dict[str, Any], path: str) -> None:
    _check_keys(agent, path, _AGENT_KEYS)
    if not any(agent.get(k) for k in ("name", "description", "system_prompt")):
        raise ConfigurationError(
            f"{path}: expected at least one of name, description or system_prompt"
        )
    inputs = agent.get("accepted_inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise _fail(f"{path}.accepted_inputs", "a non-empty dict", inputs)
    _check_keys(inputs, f"{path}.accepted_inputs", _INPUT_KINDS)
    for kind, flag in inputs.items():
        ok = isinstance(flag, bool) or (
            isinstance(flag, dict)
            and set(flag) == {"enabled"}
            and isinstance(flag["enabled"], bool)
        )
        if not ok:
            raise _fail(f"{path}.accepted_inputs.{kind}", 'a bool or {"enabled": bool}', flag)
    tools = agent.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _fail(f"{path}.tools", "a list of tool dicts", tools)
        for index, tool in enumerate(tools):
            where = f"{path}.tools[{index}]"
            if not isinstance(tool, dict):
                raise _fail(where, "a dict", tool)
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise _fail(f"{where}.name", "a non-empty str", tool.get("name"))
            if "parameters" in tool and not isinstance(tool["parameters"], dict):
                raise _fail(f"{where}.parameters", "a JSON Schema dict", tool["parameters"])
    output_format = agent.get("output_format")
    if output_format is not None and not isinstance(output_format, dict):
        raise _fail(f"{path}.output_format", 'a dict such as {"type": "text"}', output_format)


def _check_context(context: dict[str, Any], path: str) -> None:
    _check_keys(context, path, _CONTEXT_KEYS)
    if not any(context.get(k) for k in ("domain", "use_case", "scenario_context")):
        raise ConfigurationError(
            f"{path}: expected at least one of domain, use_case or scenario_context"
        )


def _check_generation_options(options: dict[str, Any], path: str) -> None:
    _check_keys(options, path, _GENERATION_KEYS)
    for key, value in options.items():
        if key == "scenario_count":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail(f"{path}.scenario_count", "a positive int", value)
        elif not isinstance(value, bool):
            raise _fail(f"{path}.{key}", "a bool", value)


def _check_pentest(config: Mapping[str, Any], metadata: dict[str, Any], path: str) -> None:
    pentest = config.get("pentest_config")
    if pentest is not None and not isinstance(pentest, dict):
        raise _fail(f"{path}.pentest_config", "a dict", pentest)
    if metadata.get("dataset_type") != "pentest":
        return
    if not pentest:
        raise _fail(f"{path}.pentest_config", "a non-empty dict for a pentest dataset", pentest)
    categories = pentest.get("categories", [])
    if not isinstance(categories, list):
        raise _fail(f"{path}.pentest_config.categories", "a list", categories)
    for index, category in enumerate(categories):
        if category not in PENTEST_CATEGORIES:
            raise _fail(
                f"{path}.pentest_config.categories[{index}]",
                f"one of {', '.join(sorted(PENTEST_CATEGORIES))}",
                category,
            )


def validate_request_config(config: object, path: str = "request") -> None:
    """Raise ``ConfigurationError`` for the first rule of protocol.md §3.4 that ``config`` breaks.

    ``accepted_inputs`` and ``generation_options`` must be present here; use
    :func:`prepare_request_config` to fill their defaults first.
    """
    if not isinstance(config, dict):
        raise _fail(path, "a dict", config)
    _check_keys(config, path, _SECTIONS)
    _check_agent(_section(config, "agent", path, required=True), f"{path}.agent")
    _check_context(_section(config, "context", path, required=True), f"{path}.context")
    options = _section(config, "generation_options", path, required=True)
    _check_generation_options(options, f"{path}.generation_options")
    _section(config, "test_config", path, required=False)
    _section(config, "expected_behaviors", path, required=False)
    metadata = _section(config, "metadata", path, required=False)
    _check_pentest(config, metadata, path)


def prepare_request_config(config: object, path: str = "request") -> dict[str, Any]:
    """Return a validated deep copy of ``config`` with the API reference's defaults filled in."""
    if not isinstance(config, dict):
        raise _fail(path, "a dict", config)
    prepared = copy.deepcopy(config)
    agent = prepared.get("agent")
    if isinstance(agent, dict) and agent and agent.get("accepted_inputs") is None:
        agent["accepted_inputs"] = dict(_DEFAULT_ACCEPTED_INPUTS)
    if prepared.get("generation_options") is None:
        prepared["generation_options"] = dict(_DEFAULT_GENERATION_OPTIONS)
    validate_request_config(prepared, path)
    return prepared


def default_input_schema(config: Mapping[str, Any]) -> dict[str, Any]:
    """The permissive schema sent when the caller gives none, with the agent's tools if any."""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    agent = config.get("agent")
    tools = agent.get("tools") if isinstance(agent, dict) else None
    if tools:
        schema["tools"] = copy.deepcopy(tools)
    return schema


def enrich_generation_config(config: object, path: str = "config") -> dict[str, Any]:
    """``generate_dataset``'s enrichment (protocol.md §3.5) on a deep copy of ``config``.

    Fills ``context.use_case``/``scenario_context`` from the agent's name and description when
    neither is set, and a default ``test_config`` when that key is absent altogether.
    """
    if not isinstance(config, dict):
        raise _fail(path, "a dict", config)
    enriched = copy.deepcopy(config)
    raw_agent = enriched.get("agent")
    agent: dict[str, Any] = raw_agent if isinstance(raw_agent, dict) else {}
    context = enriched.get("context")
    if context is None:
        context = enriched["context"] = {}
    if (
        isinstance(context, dict)
        and not context.get("use_case")
        and not context.get("scenario_context")
    ):
        name, description = agent.get("name"), agent.get("description")
        if description:
            context["use_case"] = description
        elif name:
            context["use_case"] = f"Testing the {name} agent"
        if name and description:
            parts = [f"A user interacting with {name}"]
            domain = context.get("domain")
            if domain and domain != "general":
                parts.append(f"in the {domain} domain")
            parts.append(f"\u2014 {description}")
            context["scenario_context"] = " ".join(parts)
    if "test_config" not in enriched:
        enriched["test_config"] = copy.deepcopy(_DEFAULT_TEST_CONFIG)
    return enriched

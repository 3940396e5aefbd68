"""Client-side generation-config checks (protocol.md §3.4 with the API reference winning, §8) and
generate_dataset's enrichment (§3.5): every rule raises a ConfigurationError naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ashr_labs import ConfigurationError
from ashr_labs.testing._config_validation import (
    default_input_schema,
    enrich_generation_config,
    prepare_request_config,
    validate_request_config,
)
from tests.support.configs import CREATE_REQUEST_EXAMPLE


def minimal() -> dict[str, Any]:
    return {"agent": {"name": "Bot"}, "context": {"domain": "banking"}}


def test_reference_example_passes_and_gets_defaults() -> None:
    """The API reference's example passes; generation_options defaults to all false."""
    prepared = prepare_request_config(CREATE_REQUEST_EXAMPLE)
    assert prepared["expected_behaviors"] == CREATE_REQUEST_EXAMPLE["expected_behaviors"]
    assert prepared["generation_options"] == {
        "generate_audio": False,
        "generate_files": False,
        "generate_images": False,
        "generate_videos": False,
        "generate_simulations": False,
    }
    assert "generation_options" not in CREATE_REQUEST_EXAMPLE  # the caller's dict is untouched


def test_accepted_inputs_defaults_to_text_only() -> None:
    """A missing accepted_inputs becomes text only (§8 #3)."""
    assert prepare_request_config(minimal())["agent"]["accepted_inputs"] == {"text": True}


def test_scenario_count_and_pentest_config_are_allowed() -> None:
    """scenario_count and a valid pentest_config pass (§8 #4, #5)."""
    config = minimal()
    config["generation_options"] = {"scenario_count": 3, "generate_audio": True}
    config["metadata"] = {"dataset_type": "pentest"}
    config["pentest_config"] = {"categories": ["jailbreak", "tool_abuse"]}
    prepare_request_config(config)


def test_input_forms_bool_and_enabled_dict() -> None:
    """accepted_inputs values may be a bool or {"enabled": bool}."""
    config = minimal()
    config["agent"]["accepted_inputs"] = {"text": {"enabled": True}, "conversation": False}
    prepare_request_config(config)


def _with(path: str, value: Any) -> dict[str, Any]:
    config = minimal()
    target = config
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1], "request: expected a dict, got [1]"),
        ({**minimal(), "website_simulation": {}}, "request: unknown key 'website_simulation'"),
        ({"context": {"domain": "x"}}, "request.agent: expected a non-empty dict, got None"),
        ({"agent": {}, "context": {"domain": "x"}}, "request.agent: expected a non-empty dict"),
        (_with("agent.colour", "red"), "request.agent: unknown key 'colour'"),
        (
            {"agent": {"tools": []}, "context": {"domain": "x"}},
            "request.agent: expected at least one of name, description or system_prompt",
        ),
        (_with("agent.accepted_inputs", {}), "request.agent.accepted_inputs: expected a non-empty"),
        (
            _with("agent.accepted_inputs", {"smell": True}),
            "request.agent.accepted_inputs: unknown key 'smell'",
        ),
        (
            _with("agent.accepted_inputs", {"text": True, "audio": 1}),
            'request.agent.accepted_inputs.audio: expected a bool or {"enabled": bool}, got 1',
        ),
        (
            _with("agent.accepted_inputs", {"text": {"enabled": "yes"}}),
            "request.agent.accepted_inputs.text: expected a bool",
        ),
        (_with("agent.tools", {"name": "x"}), "request.agent.tools: expected a list"),
        (_with("agent.tools", ["x"]), "request.agent.tools[0]: expected a dict, got 'x'"),
        (
            _with("agent.tools", [{"description": "d"}]),
            "request.agent.tools[0].name: expected a non-empty str, got None",
        ),
        (
            _with("agent.tools", [{"name": "t", "parameters": []}]),
            "request.agent.tools[0].parameters: expected a JSON Schema dict",
        ),
        ({"agent": {"name": "a"}}, "request.context: expected a non-empty dict, got None"),
        (
            {"agent": {"name": "a"}, "context": {"user_persona": {}}},
            "request.context: expected at least one of domain, use_case or scenario_context",
        ),
        (_with("context.region", "eu"), "request.context: unknown key 'region'"),
        (_with("generation_options", {}), "request.generation_options: expected a non-empty dict"),
        (
            _with("generation_options", {"generate_music": True}),
            "request.generation_options: unknown key 'generate_music'",
        ),
        (
            _with("generation_options", {"generate_audio": "no"}),
            "request.generation_options.generate_audio: expected a bool, got 'no'",
        ),
        (
            _with("generation_options", {"scenario_count": 0}),
            "request.generation_options.scenario_count: expected a positive int, got 0",
        ),
        (_with("metadata", "m"), "request.metadata: expected a dict, got 'm'"),
        (_with("test_config", [1]), "request.test_config: expected a dict"),
        (_with("expected_behaviors", "x"), "request.expected_behaviors: expected a dict"),
        (
            _with("metadata", {"dataset_type": "pentest"}),
            "request.pentest_config: expected a non-empty dict for a pentest dataset",
        ),
        (
            {
                **_with("metadata", {"dataset_type": "pentest"}),
                "pentest_config": {"categories": ["jailbreak", "karate"]},
            },
            "request.pentest_config.categories[1]: expected one of",
        ),
    ],
)
def test_each_rule_names_the_field(config: Any, message: str) -> None:
    """Each broken rule raises a ConfigurationError (a ValueError) starting with the field path."""
    with pytest.raises(ConfigurationError) as info:
        prepare_request_config(config)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(message), str(info.value)


def test_validate_without_defaults_requires_the_sections() -> None:
    """validate_request_config alone (no defaults) still requires generation_options."""
    with pytest.raises(ConfigurationError, match="request.generation_options"):
        validate_request_config(
            {"agent": {"name": "a", "accepted_inputs": {"text": True}}, "context": {"domain": "x"}}
        )


def test_default_schema_carries_the_tools() -> None:
    """The default schema is permissive and holds the agent's tools when there are any."""
    assert default_input_schema(minimal()) == {"type": "object", "properties": {}}
    tools = [{"name": "t"}]
    assert default_input_schema({"agent": {"name": "a", "tools": tools}})["tools"] == tools


@pytest.mark.parametrize(
    ("agent", "context", "expected"),
    [
        (
            {"name": "Bot", "description": "Does X"},
            {"domain": "banking"},
            {
                "domain": "banking",
                "use_case": "Does X",
                "scenario_context": (
                    "A user interacting with Bot in the banking domain \u2014 Does X"
                ),
            },
        ),
        (
            {"name": "Bot", "description": "Does X"},
            {"domain": "general"},
            {
                "domain": "general",
                "use_case": "Does X",
                "scenario_context": "A user interacting with Bot \u2014 Does X",
            },
        ),
        ({"name": "Bot"}, {}, {"use_case": "Testing the Bot agent"}),
        ({"description": "Does X"}, None, {"use_case": "Does X"}),
        ({"system_prompt": "p"}, {"domain": "x"}, {"domain": "x"}),
        ({"name": "Bot", "description": "D"}, {"use_case": "given"}, {"use_case": "given"}),
        ({"name": "Bot", "description": "D"}, {"scenario_context": "s"}, {"scenario_context": "s"}),
    ],
)
def test_enrichment_fills_context(
    agent: dict[str, Any], context: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    """Enrichment fills use_case and scenario_context exactly as §3.5 describes."""
    config: dict[str, Any] = {"agent": agent}
    if context is not None:
        config["context"] = context
    original = copy.deepcopy(config)
    enriched = enrich_generation_config(config)
    assert enriched["context"] == expected
    assert config == original


def test_enrichment_adds_test_config_only_when_absent() -> None:
    """A default test_config is added only when the key is absent; {} counts as present."""
    assert enrich_generation_config(minimal())["test_config"]["num_variations"] == 5
    config = minimal()
    config["test_config"] = {}
    assert enrich_generation_config(config)["test_config"] == {}

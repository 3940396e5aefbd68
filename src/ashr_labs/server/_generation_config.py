"""Reading a generation config (the ``create_request`` dict) into a checked, typed form.

Every problem raises ``GenerationError`` naming the field and what was expected, e.g.
``test_config.num_variations: expected an integer 1–50, got 51``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMPLEXITIES",
    "COVERAGE_KEYS",
    "STRATEGIES",
    "GenerationConfig",
    "GenerationError",
    "Tool",
    "field_error",
    "parse_config",
]

STRATEGIES = ("focused", "diverse", "balanced")
COVERAGE_KEYS = ("happy_path", "edge_cases", "error_handling", "boundary_values")
COMPLEXITIES = ("simple", "moderate", "complex")
DEFAULT_COMPLEXITY = {"simple": 0.3, "moderate": 0.5, "complex": 0.2}


class GenerationError(Exception):
    """A config the generator cannot turn into a dataset, or an unusable LLM answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Tool:
    """One agent tool: its name, description, parameter schema and optional ``returns``."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    returns: Mapping[str, Any] | None = None

    @property
    def properties(self) -> Mapping[str, Any]:
        props = self.parameters.get("properties")
        return props if isinstance(props, Mapping) else {}

    @property
    def required(self) -> list[str]:
        return [k for k in self.parameters.get("required") or [] if k in self.properties]


@dataclass(frozen=True)
class GenerationConfig:
    """The parts of a config that shape the generated scenarios."""

    agent_name: str
    agent_description: str
    tools: tuple[Tool, ...]
    domain: str
    use_case: str
    persona_type: str | None
    persona_description: str
    hints: Mapping[str, list[Any]]
    num_variations: int
    strategy: str
    coverage: Mapping[str, bool]
    complexity: Mapping[str, float]
    focus_areas: tuple[str, ...]
    exclude: tuple[str, ...]
    dataset_name: str | None
    dataset_description: str | None
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


def field_error(path: str, expected: str, got: Any) -> GenerationError:
    """``GenerationError("<path>: expected <what>, got <json, shortened>")``."""
    shown = json.dumps(got, default=repr)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return GenerationError(f"{path}: expected {expected}, got {shown}")


def _section(config: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    value = config.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping) or (required and not value):
        raise field_error(key, "a non-empty object" if required else "an object", value)
    return value


def _text(section: Mapping[str, Any], key: str, path: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise field_error(f"{path}.{key}", "a string", value)
    return value.strip()


def _strings(section: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise field_error(f"{path}.{key}", "an array of strings", value)
    return tuple(v.strip() for v in value if v.strip())


def _tools(agent: Mapping[str, Any]) -> tuple[Tool, ...]:
    raw = agent.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise field_error("agent.tools", "an array of tool objects", raw)
    tools: list[Tool] = []
    for i, item in enumerate(raw):
        path = f"agent.tools[{i}]"
        if not isinstance(item, Mapping):
            raise field_error(path, "an object", item)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise field_error(f"{path}.name", "a non-empty string", name)
        if any(t.name == name for t in tools):
            raise field_error(f"{path}.name", "a name not used by another tool", name)
        params = item.get("parameters")
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise field_error(f"{path}.parameters", "a JSON Schema object", params)
        props = params.get("properties", {})
        if props is not None and not isinstance(props, Mapping):
            raise field_error(f"{path}.parameters.properties", "an object", props)
        returns = item.get("returns")
        description = item.get("description") or ""
        if not isinstance(description, str):
            raise field_error(f"{path}.description", "a string", description)
        tools.append(
            Tool(
                name=name,
                description=description.strip(),
                parameters=params,
                returns=returns if isinstance(returns, Mapping) else None,
            )
        )
    return tuple(tools)


def _hints(agent: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, list[Any]]:
    hints: dict[str, list[Any]] = {}

    def add(key: Any, value: Any) -> None:
        if isinstance(key, str) and value is not None and value not in hints.get(key, []):
            hints.setdefault(key, []).append(value)

    sample = _section(context, "sample_data")
    examples = sample.get("examples", [])
    if not isinstance(examples, list):
        raise field_error("context.sample_data.examples", "an array of objects", examples)
    for example in examples:
        if isinstance(example, Mapping):
            for key, value in example.items():
                add(key, value)
                if isinstance(value, Mapping):
                    for inner_key, inner in value.items():
                        add(inner_key, inner)
    schema = agent.get("input_schema")
    if schema is not None and not isinstance(schema, Mapping):
        raise field_error("agent.input_schema", "an object", schema)
    schema = schema or {}
    example = schema.get("example")
    if isinstance(example, Mapping):
        for key, value in example.items():
            add(key, value)
    fields = schema.get("fields") or []
    if not isinstance(fields, list):
        raise field_error("agent.input_schema.fields", "an array of field objects", fields)
    for spec in fields:
        if isinstance(spec, Mapping) and isinstance(spec.get("enum"), list):
            for value in spec["enum"]:
                add(spec.get("name"), value)
    return hints


def _count(test_config: Mapping[str, Any], options: Mapping[str, Any]) -> int:
    if "num_variations" in test_config and test_config["num_variations"] is not None:
        value, path = test_config["num_variations"], "test_config.num_variations"
    elif options.get("scenario_count") is not None:
        value, path = options["scenario_count"], "generation_options.scenario_count"
    else:
        return 5
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
        raise field_error(path, "an integer 1–50", value)
    return value


def _coverage(test_config: Mapping[str, Any]) -> dict[str, bool]:
    raw = test_config.get("coverage")
    if raw is None:
        return dict.fromkeys(COVERAGE_KEYS, True)
    if not isinstance(raw, Mapping):
        raise field_error("test_config.coverage", "an object", raw)
    for key, value in raw.items():
        if key not in COVERAGE_KEYS:
            raise field_error("test_config.coverage", "keys from " + ", ".join(COVERAGE_KEYS), key)
        if not isinstance(value, bool):
            raise field_error(f"test_config.coverage.{key}", "a boolean", value)
    coverage = {key: bool(raw.get(key, False)) for key in COVERAGE_KEYS}
    if not any(coverage.values()):
        raise field_error("test_config.coverage", "at least one coverage key set to true", raw)
    return coverage


def _complexity(test_config: Mapping[str, Any]) -> dict[str, float]:
    raw = test_config.get("complexity_distribution")
    if raw is None:
        return dict(DEFAULT_COMPLEXITY)
    path = "test_config.complexity_distribution"
    if not isinstance(raw, Mapping):
        raise field_error(path, "an object", raw)
    shares: dict[str, float] = {}
    for key, value in raw.items():
        if key not in COMPLEXITIES:
            raise field_error(path, "keys from " + ", ".join(COMPLEXITIES), key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise field_error(f"{path}.{key}", "a number >= 0", value)
        shares[key] = float(value)
    total = sum(shares.values())
    if not 0.9 <= total <= 1.1:
        raise field_error(path, "shares summing to about 1.0", raw)
    return {key: shares.get(key, 0.0) / total for key in COMPLEXITIES}


def parse_config(config: Any) -> GenerationConfig:
    """Check ``config`` and extract what the generator uses (raises ``GenerationError``)."""
    if not isinstance(config, Mapping):
        raise field_error("config", "an object", config)
    agent = _section(config, "agent", required=True)
    context = _section(config, "context")
    test_config = _section(config, "test_config")
    options = _section(config, "generation_options")
    metadata = _section(config, "metadata")
    name = _text(agent, "name", "agent")
    description = _text(agent, "description", "agent")
    if not (name or description or _text(agent, "system_prompt", "agent")):
        raise field_error("agent", "at least one of name, description, system_prompt", dict(agent))
    persona = _section(context, "user_persona")
    strategy = test_config.get("strategy", "balanced")
    if strategy not in STRATEGIES:
        raise field_error("test_config.strategy", "one of " + ", ".join(STRATEGIES), strategy)
    dataset_name = _text(metadata, "dataset_name", "metadata") or None
    return GenerationConfig(
        agent_name=name or "the assistant",
        agent_description=description,
        tools=_tools(agent),
        domain=_text(context, "domain", "context"),
        use_case=_text(context, "use_case", "context")
        or _text(context, "scenario_context", "context"),
        persona_type=_text(persona, "type", "context.user_persona") or None,
        persona_description=_text(persona, "description", "context.user_persona"),
        hints=_hints(agent, context),
        num_variations=_count(test_config, options),
        strategy=str(strategy),
        coverage=_coverage(test_config),
        complexity=_complexity(test_config),
        focus_areas=_strings(test_config, "focus_areas", "test_config"),
        exclude=_strings(test_config, "exclude", "test_config"),
        dataset_name=dataset_name,
        dataset_description=_text(metadata, "description", "metadata") or None,
        raw=config,
    )

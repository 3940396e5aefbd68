"""LLM-backed dataset generation: the model writes the scenarios the deterministic planner laid
out (kind, complexity, tool per slot), and the answer is checked against protocol.md §4.3.

The model must answer ``{"scenarios": [{"title", "actions": [...]}, ...]}`` with exactly one
scenario per planned slot. Expected tool calls may carry ``arguments`` (an object; converted to
``arguments_json`` with ``json.dumps`` default separators) or ``arguments_json``. Anything else
(an HTTP failure, non-JSON, a wrong count, an unknown tool, a missing field) raises
``GenerationError`` with a readable message: the job fails, there is no silent fallback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._generation_config import GenerationConfig, GenerationError, Tool
from ._generation_scenarios import Slot
from ._generation_shape import check_dataset_source
from ._llm import LlmClient, LlmError

__all__ = ["generate_with_llm"]

_SYSTEM = """You write test scenarios for evaluating an AI agent. Answer with one JSON object:
{"scenarios": [{"title": str, "actions": [action, ...]}, ...]}
Each action is one of:
- a user turn: {"actor": "<user actor>", "name": "<short label>", "content": "<message>"}
- a tool result the agent's tools return during the next agent turn:
  {"actor": "environment", "name": "tool_result", "content": "tool result: <json>"}
- an expected agent turn: {"actor": "agent", "content": "<expected reply text>",
   "expected_response": {"tool_calls": [{"name": "<tool>", "arguments": {...}}]}}
Write exactly one scenario per planned slot, in order, following its kind and complexity:
happy_path = the user gives every detail and the agent calls the tool; edge_case = unusual but
valid input; missing_info = a required detail is missing and the agent asks for it first;
tool_error = the tool returns an error and the agent explains it; out_of_range = a value breaks
the parameter schema and the agent refuses without calling the tool; boundary = minimum or
maximum values; question/vague/out_of_scope/minimal = text-only conversations. simple = one
exchange, moderate = one follow-up turn, complex = several turns chaining tools. Arguments must
follow each tool's JSON Schema. Only use the listed tools."""


def _prompt(config: GenerationConfig, slots: list[Slot], tools: tuple[Tool, ...]) -> str:
    raw = config.raw
    agent = raw.get("agent") if isinstance(raw.get("agent"), Mapping) else {}
    brief = {
        "agent": {
            "name": config.agent_name,
            "description": config.agent_description,
            "system_prompt": agent.get("system_prompt") if isinstance(agent, Mapping) else None,
            "tools": [
                {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
                for t in tools
            ],
        },
        "context": {
            "domain": config.domain,
            "use_case": config.use_case,
            "user_persona": {
                "type": config.persona_type,
                "description": config.persona_description,
            },
            "sample_values": dict(config.hints),
        },
        "user_actor": (config.persona_type or "user").strip().lower().replace(" ", "_"),
        "focus_areas": list(config.focus_areas),
        "planned_slots": [
            {"kind": s.kind, "complexity": s.complexity, "tool": s.tool.name if s.tool else None}
            for s in slots
        ],
    }
    return json.dumps(brief, indent=1, default=str)


def _normalise_calls(scenario: Any) -> None:
    """``arguments`` objects become ``arguments_json`` strings (default separators)."""
    if not isinstance(scenario, dict) or not isinstance(scenario.get("actions"), list):
        return
    for action in scenario["actions"]:
        expected = action.get("expected_response") if isinstance(action, dict) else None
        calls = expected.get("tool_calls") if isinstance(expected, dict) else None
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and "arguments_json" not in call:
                if isinstance(call.get("arguments"), dict):
                    call["arguments_json"] = json.dumps(call.pop("arguments"))


def generate_with_llm(
    config: GenerationConfig,
    slots: list[Slot],
    client: LlmClient,
    *,
    tools: tuple[Tool, ...],
    seed: int,
) -> dict[str, Any]:
    """Ask the model for the planned scenarios (using only ``tools``) and return a checked
    ``dataset_source``."""
    try:
        answer = client.complete_json(_SYSTEM, _prompt(config, slots, tools), seed=seed % 2**31)
    except LlmError as exc:
        raise GenerationError(f"LLM generation failed: {exc}") from exc
    scenarios = answer.get("scenarios")
    if not isinstance(scenarios, list):
        raise GenerationError("LLM answer: expected a 'scenarios' array")
    runs: dict[str, Any] = {}
    for i, scenario in enumerate(scenarios, start=1):
        _normalise_calls(scenario)
        runs[f"scenario_{i:03d}"] = scenario
    source = {"runs": runs}
    try:
        check_dataset_source(source, tool_names=[t.name for t in tools], count=len(slots))
    except GenerationError as exc:
        raise GenerationError(f"LLM answer unusable: {exc}") from exc
    for scenario, slot in zip(runs.values(), slots, strict=True):
        scenario.setdefault("kind", slot.kind)
        scenario.setdefault("complexity", slot.complexity)
        if slot.tool is not None:
            scenario.setdefault("tool", slot.tool.name)
    return source

"""Checking a ``dataset_source`` against protocol.md §4.3 before it is stored.

Used on every LLM answer (a model can return anything) and by the tests on our own output.
Problems raise ``GenerationError`` naming the path, e.g.
``runs.scenario_002.actions[1].expected_response.tool_calls[0].arguments_json: expected a
JSON object string, got "{oops"``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from ._generation_config import GenerationError, field_error

__all__ = ["check_dataset_source"]


def _check_call(call: Any, path: str, tool_names: Collection[str] | None) -> None:
    if not isinstance(call, Mapping):
        raise field_error(path, "an object with name and arguments_json", call)
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise field_error(f"{path}.name", "a tool name", name)
    if tool_names is not None and name not in tool_names:
        raise field_error(
            f"{path}.name", "one of the agent's tools (" + ", ".join(tool_names) + ")", name
        )
    raw = call.get("arguments_json")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise field_error(f"{path}.arguments_json", "a JSON object string", raw)


def _check_action(action: Any, path: str, tool_names: Collection[str] | None) -> None:
    if not isinstance(action, Mapping):
        raise field_error(path, "an action object", action)
    actor = action.get("actor")
    if not isinstance(actor, str) or not actor:
        raise field_error(f"{path}.actor", "a non-empty string", actor)
    content = action.get("content")
    if not isinstance(content, str):
        raise field_error(f"{path}.content", "a string", content)
    if actor != "agent":
        return
    expected = action.get("expected_response", {})
    if not isinstance(expected, Mapping):
        raise field_error(f"{path}.expected_response", "an object", expected)
    calls = expected.get("tool_calls", [])
    if not isinstance(calls, list):
        raise field_error(f"{path}.expected_response.tool_calls", "an array", calls)
    for i, call in enumerate(calls):
        _check_call(call, f"{path}.expected_response.tool_calls[{i}]", tool_names)


def check_dataset_source(
    source: Any, *, tool_names: Collection[str] | None = None, count: int | None = None
) -> None:
    """Raise ``GenerationError`` unless ``source`` is a usable §4.3 dataset.

    ``runs`` must be a non-empty object of scenarios, each with a string ``title`` and a
    non-empty ``actions`` list; every action has a string ``actor`` and ``content``; expected
    tool calls name one of ``tool_names`` (when given) with a JSON-object ``arguments_json``.
    ``count``, when given, is the exact number of scenarios required.
    """
    if not isinstance(source, Mapping):
        raise field_error("dataset_source", "an object", source)
    runs = source.get("runs")
    if not isinstance(runs, Mapping) or not runs:
        raise field_error("runs", "a non-empty object of scenarios", runs)
    if count is not None and len(runs) != count:
        raise GenerationError(f"runs: expected {count} scenarios, got {len(runs)}")
    for scenario_id, scenario in runs.items():
        path = f"runs.{scenario_id}"
        if not isinstance(scenario, Mapping):
            raise field_error(path, "a scenario object", scenario)
        if not isinstance(scenario.get("title"), str) or not scenario["title"].strip():
            raise field_error(f"{path}.title", "a non-empty string", scenario.get("title"))
        actions = scenario.get("actions")
        if not isinstance(actions, list) or not actions:
            raise field_error(f"{path}.actions", "a non-empty array", actions)
        for i, action in enumerate(actions):
            _check_action(action, f"{path}.actions[{i}]", tool_names)
        if not any(isinstance(a, Mapping) and a.get("actor") == "agent" for a in actions):
            raise field_error(
                f"{path}.actions", "at least one agent action", [a.get("actor") for a in actions]
            )

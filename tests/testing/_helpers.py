"""Agents and datasets shared by the builder and runner tests.

The agents are deterministic: each answers from a table keyed by the message, so a deep copy on
another thread gives the same answers as the original.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
import sys
import threading
from pathlib import Path
from typing import Any

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """An agent-side tool call."""
    return {"name": name, "arguments": arguments}


def expected_call(name: str, **arguments: Any) -> dict[str, Any]:
    """A dataset-side expected tool call, ``arguments_json`` with default separators."""
    return {"name": name, "arguments_json": json.dumps(arguments)}


def user(content: str, **extra: Any) -> dict[str, Any]:
    return {"actor": "user", "content": content, **extra}


def agent(content: str = "", *tool_calls: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = {"actor": "agent", "content": content}
    if tool_calls:
        action["expected_response"] = {"tool_calls": list(tool_calls)}
    return action


def environment(content: str) -> dict[str, Any]:
    return {"actor": "environment", "content": content}


def source(**scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """A dataset source whose scenario ids are the keyword names, in order."""
    return {"runs": {sid: {"title": sid, "actions": actions} for sid, actions in scenarios.items()}}


class TableAgent:
    """Answers each message from ``table`` (default: echo, no tools); records what it saw."""

    def __init__(self, table: dict[str, dict[str, Any]] | None = None) -> None:
        self.table = table or {}
        self.messages: list[str] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def respond(self, message: str) -> dict[str, Any]:
        self.messages.append(message)
        reply = self.table.get(message, {"text": f"echo: {message}", "tool_calls": []})
        return copy.deepcopy(reply)


def drop_timestamps(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run document without its wall-clock fields."""
    doc = copy.deepcopy(document)
    doc.pop("started_at", None)
    doc.pop("completed_at", None)
    for test in doc.get("tests", []):
        test.pop("started_at", None)
        test.pop("completed_at", None)
    return doc


class Gate:
    """A release switch for agents that must hang until the test lets them go."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def wait(self, timeout: float = 5.0) -> None:
        self.event.wait(timeout)

    def release(self) -> None:
        self.event.set()


@functools.lru_cache(maxsize=1)
def demo_module() -> Any:
    """``examples/demo_agent.py`` imported from its path (examples are not a package)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "demo_agent.py"
    spec = importlib.util.spec_from_file_location("ashr_examples_demo_agent", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

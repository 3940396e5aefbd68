"""A small rule-based support agent for the quick start: no network, no LLM.

``DemoSupportAgent`` reads the tool definitions it is given (name, description, JSON-schema
``parameters``) and answers user messages with plain heuristics:

* it picks the tool whose name and description share the most words with the message;
* it fills arguments from phrases such as "the order ID is ORD-1" (a property's name with
  underscores read as spaces), from ID-looking tokens like ``ORD-1`` for ``*_id`` properties, and
  from what earlier messages in the same scenario said;
* the last mention of a value wins ("... is X. Sorry, it is actually Y");
* a value outside the schema's ``enum`` or ``minimum``/``maximum`` is refused with the options;
* when a required argument is still unknown it asks for it, and calls the tool once told;
* it answers "which order ID did you use?" from memory, and repeats its last tool call when
  asked to try again;
* ``observe`` (pass it as ``on_environment``) turns a "tool result: {...}" or "tool error: {...}"
  message into a short summary or apology.

It is a stand-in for a real agent, good enough to show a run end to end and to give the
grader something to grade. Run ``python examples/demo_agent.py`` to evaluate it against a
throwaway local server.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DEFAULT_TOOLS", "DemoSupportAgent", "main"]

DEFAULT_TOOLS: list[dict[str, Any]] = [
    {
        "name": "lookup_order",
        "description": "Look up order status",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
    {
        "name": "process_refund",
        "description": "Process a refund",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
            "required": ["order_id", "reason"],
        },
    },
]

_STOPWORDS = frozenset(
    "a an the to of for and or is are in on at my your our i you me we please need want can "
    "could would with it this that be as by from do did use used now also just".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_ID_TOKEN = re.compile(r"\b[A-Z]{2,}-\d+\b")
_END_OF_VALUE = r"(?=\.\s|\.$|,|;|\?|!|\s+and\s+the\s|\s+\(|$)"


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _label(prop: str) -> str:
    """``order_id`` reads as "order ID" in messages."""
    words = prop.split("_")
    return " ".join("ID" if w.lower() == "id" else w for w in words)


class DemoSupportAgent:
    """A deterministic agent implementing the ``Agent`` protocol (``respond`` and ``reset``)."""

    def __init__(self, tools: list[dict[str, Any]] | None = None) -> None:
        self.tools = [dict(t) for t in (tools if tools is not None else DEFAULT_TOOLS)]
        self._memory: dict[str, Any] = {}
        self._pending: dict[str, Any] | None = None
        self._last_tool: dict[str, Any] | None = None

    def reset(self) -> None:
        """Forget everything said in the previous scenario."""
        self._memory = {}
        self._pending = None
        self._last_tool = None

    # --- the Agent protocol ---

    def respond(self, message: str) -> dict[str, Any]:
        """Answer one user message with text and, when a tool fits, one tool call."""
        found = self._extract_arguments(message)
        invalid = {p: v for p, v in found.items() if _violation(v, self._schema_of(p))}
        self._memory.update({p: v for p, v in found.items() if p not in invalid})
        recalled = self._recall(message)
        if recalled is not None:
            return {"text": recalled, "tool_calls": []}
        tool = self._pick_tool(message) or self._pending
        if tool is None and re.search(r"\b(try again|retry)\b", message, re.I):
            tool = self._last_tool
        if tool is None:
            return {
                "text": "I can help with orders and refunds. What do you need?",
                "tool_calls": [],
            }
        bad = [p for p in self._properties(tool) if p in invalid]
        if bad:
            self._pending = tool
            prop = bad[0]
            return {
                "text": f"I'm sorry, {invalid[prop]} is not a valid {_label(prop)}: "
                f"{_violation(invalid[prop], self._schema_of(prop))}. "
                f"Could you give me a valid {_label(prop)}?",
                "tool_calls": [],
            }
        missing = [p for p in self._required(tool) if p not in self._memory]
        if missing:
            self._pending = tool
            return {
                "text": f"I can help with that. Could you tell me the {_label(missing[0])}?",
                "tool_calls": [],
            }
        self._pending = None
        self._last_tool = tool
        arguments = {p: self._memory[p] for p in self._properties(tool) if p in self._memory}
        purpose = str(tool.get("description") or tool["name"]).rstrip(".")
        return {
            "text": f"Done: I used {tool['name']} to {purpose[:1].lower()}{purpose[1:]}.",
            "tool_calls": [{"name": tool["name"], "arguments": arguments}],
        }

    def observe(self, content: str, action: dict[str, Any]) -> dict[str, Any]:
        """An ``on_environment`` handler: summarise a tool result or apologise for an error.

        Returns only ``text``, so the tool calls made in the same turn stay recorded.
        """
        kind, _, payload = content.partition(":")
        try:
            data = json.loads(payload)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        tool = self._tool_named(str(data.get("tool", "")))
        purpose = str((tool or {}).get("description") or data.get("tool") or "do that")
        purpose = purpose[:1].lower() + purpose[1:]
        if kind.strip() == "tool error":
            error = data.get("error") or {}
            reason = (
                error.get("message", "something went wrong")
                if isinstance(error, dict)
                else str(error)
            )
            return {
                "text": f"I'm sorry, I couldn't {purpose} because {reason}. Please try again in "
                "a moment, or I can escalate this for you."
            }
        output = data.get("output")
        details = ""
        if isinstance(output, dict):
            shown = [f"{_label(k)}: {v}" for k, v in output.items() if k != "success"]
            details = " Result: " + ", ".join(shown) + "." if shown else ""
        return {"text": f"Done: I used {data.get('tool')} to {purpose}.{details}"}

    # --- heuristics ---

    def _parameters(self, tool: dict[str, Any]) -> dict[str, Any]:
        """The tool's JSON schema (``parameters``, or Anthropic's ``input_schema``)."""
        schema = tool.get("parameters") or tool.get("input_schema")
        return schema if isinstance(schema, dict) else {}

    def _properties(self, tool: dict[str, Any]) -> dict[str, Any]:
        props = self._parameters(tool).get("properties")
        return props if isinstance(props, dict) else {}

    def _schema_of(self, prop: str) -> dict[str, Any]:
        for tool in self.tools:
            schema = self._properties(tool).get(prop)
            if isinstance(schema, dict):
                return schema
        return {}

    def _required(self, tool: dict[str, Any]) -> list[str]:
        required = self._parameters(tool).get("required")
        return [r for r in required or [] if isinstance(r, str)]

    def _tool_named(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tools if t.get("name") == name), None)

    def _pick_tool(self, message: str) -> dict[str, Any] | None:
        said = _words(message)
        best, best_score = None, 1  # one shared word ("order") is not enough
        for tool in self.tools:
            vocabulary = _words(str(tool.get("description", ""))) | _words(
                str(tool.get("name", "")).replace("_", " ")
            )
            score = len(said & vocabulary)
            if score > best_score:
                best, best_score = tool, score
        return best

    def _extract_arguments(self, message: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for tool in self.tools:
            for prop, schema in self._properties(tool).items():
                value = self._find_value(message, prop, schema if isinstance(schema, dict) else {})
                if value is not None:
                    found[prop] = value
        return found

    def _find_value(self, message: str, prop: str, schema: dict[str, Any]) -> Any:
        label = re.escape(_label(prop)).replace(r"\ ", r"[\s_]+")
        pattern = rf"\b{label}\s+(?:is|=|:)\s+(?:actually\s+)?(.+?){_END_OF_VALUE}"
        matches = list(re.finditer(pattern, message, re.I))
        raw = matches[-1].group(1).strip().strip("\"'") if matches else None
        if raw is None and prop.endswith("_id"):
            tokens = _ID_TOKEN.findall(message)
            raw = tokens[-1] if tokens else None
        return None if raw is None else _coerce(raw, schema)

    def _recall(self, message: str) -> str | None:
        """Answer "which <thing> did you use?" from memory, or None."""
        if not re.search(r"\bwhich\b.*\b(use|used)\b", message, re.I):
            return None
        for prop, value in self._memory.items():
            if _label(prop).lower() in message.lower():
                return f"I used the {_label(prop)} {value}."
        return None


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """Read a value as the schema's type; enums match case-insensitively."""
    enum = schema.get("enum")
    if isinstance(enum, list):
        for option in enum:
            if str(option).lower() == raw.lower():
                return option
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw.replace(",", ""))
        if kind == "number":
            return float(raw.replace(",", ""))
    except ValueError:
        return raw
    if kind == "boolean":
        return raw.lower() in ("true", "yes", "y", "1")
    return raw


def _violation(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` breaks the schema's enum or bounds, or None when it does not."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return "it must be one of " + ", ".join(str(option) for option in enum)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and value < low:
            return f"it must be at least {low}"
        if isinstance(high, (int, float)) and value > high:
            return f"it must be at most {high}"
    return None


def main() -> None:
    """Generate a dataset on a throwaway local server, run the agent, deploy and wait for grades."""
    import tempfile

    from ashr_labs import AshrLabsClient, EvalRunner
    from ashr_labs.server import LocalServer

    config = {
        "agent": {
            "name": "Support Bot",
            "description": "Handles customer orders and refunds",
            "system_prompt": "You are a helpful support agent for ShopWave.",
            "tools": DEFAULT_TOOLS,
            "accepted_inputs": {"text": True, "audio": False, "file": False},
        },
        "context": {"domain": "e-commerce", "use_case": "Customer support for online orders"},
        "test_config": {"num_variations": 6},
        "generation_options": {
            "generate_audio": False,
            "generate_files": False,
            "generate_simulations": False,
        },
    }
    with tempfile.TemporaryDirectory() as data_dir, LocalServer(data_dir=data_dir) as server:
        with AshrLabsClient(api_key=server.api_key, base_url=server.url) as client:
            dataset_id, source = client.generate_dataset(
                "Demo eval", config, timeout=60, poll_interval=1
            )
            agent = DemoSupportAgent(DEFAULT_TOOLS)
            run = EvalRunner(source).run(agent, on_environment=agent.observe)
            created = run.deploy(client, dataset_id=dataset_id)
            graded = client.poll_run(created["id"], timeout=60, poll_interval=1)
            metrics = graded["result"]["aggregate_metrics"]
            print(
                f"Run #{created['id']}: {metrics['tests_passed']}/{metrics['total_tests']} "
                "tests passed"
            )


if __name__ == "__main__":
    main()

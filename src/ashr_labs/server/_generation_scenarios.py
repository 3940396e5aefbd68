"""Writing one scenario (protocol.md §4.3 shape) for a planned slot: a kind, a complexity, a tool.

Turn shape: a user action, then (when a tool runs) an ``environment`` action holding what the
tool returns during that turn (``tool_results``: name, arguments, output or error; ``content``
is ``"tool result: <json>"`` / ``"tool error: <json>"``), then the ``agent`` action with the
expected tool calls (``arguments_json`` from ``json.dumps`` with default separators) and the
expected text (``content``, repeated as ``expected_response.text``). Plain agents ignore the
environment action; harnesses can stub their tools from it. Complexity adds turns: ``moderate``
a follow-up question answered in text, ``complex`` a chained second tool (a lookup-style tool
first, sharing argument values such as ids) or a retry after a failure, then the follow-up.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from ._generation_config import GenerationConfig, Tool
from ._generation_values import ValueMaker, fits, has_constraint, schema_type

__all__ = ["Action", "ScenarioWriter", "Slot", "is_lookup", "partner_for"]

Action = dict[str, Any]
"""One ``dataset_source`` action (protocol §4.3)."""

_LOOKUP_VERBS = (
    "get",
    "lookup",
    "look",
    "search",
    "find",
    "list",
    "check",
    "fetch",
    "read",
    "view",
    "query",
    "retrieve",
)
_GREETINGS = ("Hi!", "Hello,", "Hey there.", "Good morning.", "Hi there,")
_RESERVED_ACTORS = ("agent", "environment", "")


@dataclass(frozen=True)
class Slot:
    """What one scenario exercises."""

    kind: str
    complexity: str
    tool: Tool | None


def is_lookup(tool: Tool) -> bool:
    """Whether a tool reads rather than acts (by its name's first word)."""
    first = re.split(r"[_\-\s]", tool.name.lower())[0]
    return first in _LOOKUP_VERBS


def partner_for(tool: Tool, tools: tuple[Tool, ...]) -> Tool | None:
    """The tool to chain with ``tool``: most shared parameter names, then tool order."""
    others = [t for t in tools if t.name != tool.name]
    if not others:
        return None
    shared = {t.name: len(set(t.properties) & set(tool.properties)) for t in others}
    return max(others, key=lambda t: (shared[t.name], -others.index(t)))


def _label(name: str) -> str:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return re.sub(r"\bid\b", "ID", words.strip().lower()) or name


def _render(value: Any) -> str:
    """A value as a user would type it: nested objects as ``label: value`` pairs."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "(" + ", ".join(f"{_label(k)}: {_render(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return ", ".join(_render(v) for v in value) or "none"
    return json.dumps(value)


def _purpose(tool: Tool) -> str:
    text = tool.description.strip().rstrip(".") or _label(tool.name)
    return text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _details(args: dict[str, Any]) -> str:
    parts = [f"the {_label(k)} is {_render(v)}" for k, v in args.items()]
    if not parts:
        return ""
    sentence = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return sentence[0].upper() + sentence[1:] + "."


def _call(tool: Tool, args: dict[str, Any]) -> dict[str, str]:
    return {"name": tool.name, "arguments_json": json.dumps(args)}


class ScenarioWriter:
    """Builds scenarios for one config from one seeded ``random.Random``."""

    def __init__(
        self, config: GenerationConfig, rng: random.Random, tools: tuple[Tool, ...] | None = None
    ) -> None:
        self.config = config
        self.rng = rng
        self.tools = config.tools if tools is None else tools
        """The tools scenarios may use (chains pick partners among them)."""
        self.values = ValueMaker(rng, config.hints)
        persona = (config.persona_type or "").strip().lower().replace(" ", "_")
        self.actor = "user" if persona in _RESERVED_ACTORS else persona

    # -- actions ----------------------------------------------------------------------------------
    def user(self, content: str, name: str) -> dict[str, Any]:
        return {"actor": self.actor, "name": name, "content": content}

    @staticmethod
    def agent(content: str, calls: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "actor": "agent",
            "content": content,
            "expected_response": {"tool_calls": calls, "text": content},
        }

    @staticmethod
    def environment(
        tool: Tool, args: dict[str, Any], output: Any, *, error: bool = False
    ) -> Action:
        key = "error" if error else "output"
        prefix = "tool error" if error else "tool result"
        return {
            "actor": "environment",
            "name": "tool_error" if error else "tool_result",
            "content": f"{prefix}: {json.dumps({'tool': tool.name, key: output})}",
            "tool_results": [{"name": tool.name, "arguments": args, key: output}],
        }

    # -- values ---------------------------------------------------------------------------------
    def args(self, tool: Tool, mode: str = "typical") -> dict[str, Any]:
        if mode == "typical" and self.config.strategy == "diverse" and self.rng.random() < 0.5:
            mode = "full"
        value = self.values.make({**tool.parameters, "type": "object"}, tool.name, mode)
        return value if isinstance(value, dict) else {}

    def output(self, tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
        returns = tool.returns or {}
        if schema_type(returns) == "object" and returns.get("properties"):
            made = self.values.make(returns, f"{tool.name}_result", "full")
            if isinstance(made, dict):
                return made
        output: dict[str, Any] = {"success": True}
        output.update({k: v for k, v in args.items() if k.lower().endswith("id")})
        statuses = ("found", "available") if is_lookup(tool) else ("completed", "confirmed")
        output["status"] = self.rng.choice(statuses)
        return output

    def ask(self, tool: Tool, args: dict[str, Any]) -> str:
        greeting = self.rng.choice(_GREETINGS)
        detail = _details(args)
        return f"{greeting} I need you to {_purpose(tool)}. {detail}".strip()

    @staticmethod
    def confirm(tool: Tool, output: dict[str, Any]) -> str:
        shown = [(k, v) for k, v in output.items() if k != "success"][:4]
        facts = ", ".join(f"{_label(k)}: {_render(v)}" for k, v in shown)
        return f"Done: I used {tool.name} to {_purpose(tool)}. Result: {facts}."

    def turn(self, tool: Tool, args: dict[str, Any], message: str, name: str) -> list[Action]:
        output = self.output(tool, args)
        return [
            self.user(message, name),
            self.environment(tool, args, output),
            self.agent(self.confirm(tool, output), [_call(tool, args)]),
        ]

    # -- main flows -------------------------------------------------------------------------------
    def write(self, slot: Slot) -> dict[str, Any]:
        """One scenario: ``title``, ``kind``, ``complexity``, ``tool`` and ``actions``."""
        if slot.tool is None:
            title, actions = self._text_only(slot.kind)
        else:
            title, actions, args = getattr(self, f"_{slot.kind}")(slot.tool)
            partner = partner_for(slot.tool, self.tools)
            lookup_first = (
                slot.complexity == "complex"
                and slot.kind in ("happy_path", "boundary", "edge_case")
                and partner is not None
                and is_lookup(partner)
                and not is_lookup(slot.tool)
            )
            if lookup_first:
                assert partner is not None
                actions = self._chain(slot.tool, args, partner, before=True) + actions
                actions += self._follow_up(args)
            else:
                actions += self._extend(slot, args)
        if slot.tool is None and slot.complexity != "simple":
            actions += self._text_follow_ups(2 if slot.complexity == "complex" else 1)
        scenario: dict[str, Any] = {"title": title, "kind": slot.kind}
        scenario["complexity"] = slot.complexity
        if slot.tool is not None:
            scenario["tool"] = slot.tool.name
        scenario["actions"] = actions
        return scenario

    def _happy_path(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool)
        return (
            f"Happy path: {_purpose(tool)}",
            self.turn(tool, args, self.ask(tool, args), "ask"),
            args,
        )

    def _boundary(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool, "boundary")
        actions = self.turn(tool, args, self.ask(tool, args), "ask_boundary")
        return f"Boundary values: {_purpose(tool)}", actions, args

    def _edge_case(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool, "full")
        strings = [k for k, v in args.items() if isinstance(v, str)]
        if strings and self.rng.random() < 0.5:
            key = strings[0]
            wrong = self.values.make(tool.properties.get(key, {}), key)
            if wrong != args[key]:
                message = (
                    f"{self.ask(tool, {**args, key: wrong})} Sorry, my mistake: the "
                    f"{_label(key)} is actually {_render(args[key])}."
                )
                actions = self.turn(tool, args, message, "ask_with_correction")
                return f"Edge case: corrected detail ({_purpose(tool)})", actions, args
        message = (
            f"{self.ask(tool, args)} (I'm writing from my phone, so sorry for the long "
            "message. I've tried before and it didn't work — please make sure it's right!)"
        )
        actions = self.turn(tool, args, message, "ask_with_every_detail")
        return f"Edge case: every optional detail ({_purpose(tool)})", actions, args

    def _missing_info(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool)
        key = tool.required[0]
        partial = {k: v for k, v in args.items() if k != key}
        label = _label(key)
        first = self.ask(tool, partial)
        actions = [
            self.user(first, "ask_without_required_detail"),
            self.agent(f"I can help with that. Could you tell me the {label}?", []),
        ]
        actions += self.turn(
            tool, args, f"Sure, the {label} is {_render(args[key])}.", "provide_missing_detail"
        )
        return f"Missing information: {label} for {_purpose(tool)}", actions, args

    def _tool_error(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool)
        code, message = self.rng.choice(
            (
                ("UNAVAILABLE", "service temporarily unavailable"),
                ("TIMEOUT", "the request timed out"),
                ("NOT_FOUND", "no matching record was found"),
            )
        )
        error = {"code": code, "message": message}
        text = (
            f"I'm sorry, I couldn't {_purpose(tool)} because {message}. "
            "Please try again in a moment, or I can escalate this for you."
        )
        actions = [
            self.user(self.ask(tool, args), "ask"),
            self.environment(tool, args, error, error=True),
            self.agent(text, [_call(tool, args)]),
        ]
        return f"Tool error ({code}): {_purpose(tool)}", actions, args

    def _out_of_range(self, tool: Tool) -> tuple[str, list[Action], dict[str, Any]]:
        args = self.args(tool)
        key = next(
            k for k, s in tool.properties.items() if isinstance(s, dict) and has_constraint(s)
        )
        bad = {**args, key: self.values.violate(tool.properties[key], key)}
        rule = _constraint_text(tool.properties[key])
        text = (
            f"I'm sorry, {_render(bad[key])} is not a valid {_label(key)}: it {rule}. "
            f"Could you give me a valid {_label(key)}?"
        )
        actions = [self.user(self.ask(tool, bad), "ask_out_of_range"), self.agent(text, [])]
        return (
            f"Out-of-range value: {_label(key)} for {_purpose(tool)}",
            actions,
            {**args, key: None},
        )

    # -- complexity --------------------------------------------------------------------------------
    def _extend(self, slot: Slot, args: dict[str, Any]) -> list[Action]:
        assert slot.tool is not None
        tool, extra = slot.tool, []
        if slot.complexity == "simple":
            return []
        if slot.kind == "tool_error":
            extra += self.turn(tool, args, "Could you please try again?", "retry")
        elif slot.kind == "out_of_range":
            fresh = self.args(tool, "full")
            fixed = {k: fresh.get(k) if v is None else v for k, v in args.items()}
            changed = {k: fixed[k] for k, v in args.items() if v is None}
            extra += self.turn(tool, fixed, f"Okay, let's fix that. {_details(changed)}", "retry")
            args = fixed
        if slot.complexity == "complex":
            extra += self._chain(tool, args)
        extra += self._follow_up(args)
        return extra

    def _chain(
        self, tool: Tool, args: dict[str, Any], partner: Tool | None = None, *, before: bool = False
    ) -> list[Action]:
        """A turn with a second tool sharing ``args``' values (before or after the main turn)."""
        partner = partner or partner_for(tool, self.tools)
        if partner is None:
            again = self.args(tool)
            return self.turn(tool, again, f"One more, please. {_details(again)}", "ask_again")
        shared = {
            k: v
            for k, v in args.items()
            if v is not None
            and isinstance(partner.properties.get(k), dict)
            and fits(v, partner.properties[k])
        }
        fresh = self.args(partner)
        fresh.update({k: v for k, v in shared.items() if k in fresh or k in partner.required})
        if before:
            message = self.ask(partner, fresh)
            return self.turn(partner, fresh, message, "lookup_first")
        own = {k: v for k, v in fresh.items() if k not in shared}
        message = f"Thanks. Now please {_purpose(partner)} as well. {_details(own)}".strip()
        return self.turn(partner, fresh, message, "chained_request")

    def _follow_up(self, args: dict[str, Any]) -> list[Action]:
        filled = [(k, v) for k, v in args.items() if v is not None and not isinstance(v, dict)]
        if not filled:
            return [
                self.user("Thanks! Is there anything else I need to do?", "follow_up"),
                self.agent("No, you're all set. Let me know if you need anything else.", []),
            ]
        key, value = filled[0]
        return [
            self.user(f"Thanks! Just to confirm, which {_label(key)} did you use?", "follow_up"),
            self.agent(f"I used the {_label(key)} {_render(value)}.", []),
        ]

    # -- agents without tools ---------------------------------------------------------------------
    def _topic(self) -> str:
        config = self.config
        topics = list(config.focus_areas) or [
            config.use_case or config.agent_description or f"what {config.agent_name} does"
        ]
        return self.rng.choice(topics).rstrip(".")

    def _text_only(self, kind: str) -> tuple[str, list[Action]]:
        topic, name = self._topic(), self.config.agent_name
        lowered = topic[0].lower() + topic[1:]
        if kind == "vague":
            return "Edge case: vague request", [
                self.user("Hmm, I'm not sure what I need. Something is wrong, I think?", "vague"),
                self.agent(
                    f"I'm here to help with {lowered}. Could you tell me a bit more "
                    "about what is going on?",
                    [],
                ),
            ]
        if kind == "out_of_scope":
            return "Error handling: out-of-scope request", [
                self.user(
                    "Can you write me a poem about pirates and book me a flight to Mars?",
                    "out_of_scope",
                ),
                self.agent(
                    f"Sorry, I can't help with that. I'm {name} and I can help with {lowered}.", []
                ),
            ]
        if kind == "minimal":
            return "Boundary values: minimal input", [
                self.user("?", "minimal_input"),
                self.agent(f"Hi! I'm {name}. How can I help you with {lowered} today?", []),
            ]
        facts = {k: self.rng.choice(v) for k, v in list(self.config.hints.items())[:3] if v}
        question = f"{self.rng.choice(_GREETINGS)} I have a question about {lowered}."
        return f"Happy path: question about {lowered}", [
            self.user(f"{question} {_details(facts)}".strip(), "ask"),
            self.agent(
                f"Of course! I'm {name} and I can help with {lowered}. "
                "What would you like to know?",
                [],
            ),
        ]

    def _text_follow_ups(self, count: int) -> list[Action]:
        turns = [
            (
                "Can you explain how that works, step by step?",
                "Sure. First I need a few details from you, then I will walk you through each "
                "step and confirm the result.",
            ),
            ("Great, thank you. That's all for now.", "You're welcome! Have a great day."),
        ]
        actions: list[Action] = []
        for question, answer in turns[-count:]:
            actions += [self.user(question, "follow_up"), self.agent(answer, [])]
        return actions


def _constraint_text(schema: dict[str, Any]) -> str:
    if isinstance(schema.get("enum"), list):
        return "must be one of " + ", ".join(_render(v) for v in schema["enum"])
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    if high is not None or schema.get("exclusiveMaximum") is not None:
        return f"must be at most {high if high is not None else schema['exclusiveMaximum']}"
    if low is not None or schema.get("exclusiveMinimum") is not None:
        return f"must be at least {low if low is not None else schema['exclusiveMinimum']}"
    if "maxLength" in schema:
        return f"must be at most {schema['maxLength']} characters"
    if "maxItems" in schema:
        return f"must have at most {schema['maxItems']} items"
    return "is outside the allowed range"

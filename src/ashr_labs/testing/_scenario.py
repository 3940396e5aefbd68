"""One scenario of an eval, as a generator of calls: the rules of protocol §5 in one place.

``scenario_steps`` records into a ``TestBuilder`` and *yields* each call it needs made (a
callback, ``agent.reset``, ``agent.respond``), receiving the result back through ``send``. The
sync and async drivers in ``_runner`` only make the calls, so both run exactly the same rules.

A failure is raised as ``ScenarioFailure`` carrying where it happened (``stage``), the cause,
whether retrying could help (agent errors can; callback and dataset errors cannot), and the test
as far as it got.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._matching import (
    NONE_EXPECTED,
    NOT_CALLED,
    compare_args_structural,
    extract_tool_args,
    pair_tool_calls,
)
from .._matching._args import call_name
from ._builders import TestBuilder

__all__ = [
    "Callbacks",
    "InvalidAgentResponse",
    "ScenarioFailure",
    "Step",
    "accepts_scenario_id",
    "scenario_steps",
]


class InvalidAgentResponse(TypeError):
    """``respond()`` (or ``on_environment``) returned something that is not a valid turn."""


class ScenarioFailure(Exception):
    """A scenario attempt failed; ``stage`` names the call, ``cause`` is what it raised."""

    def __init__(
        self,
        stage: str,
        cause: BaseException,
        *,
        retryable: bool,
        message: str | None = None,
        test: TestBuilder | None = None,
        abandoned: bool = False,
    ) -> None:
        self.stage = stage
        self.cause = cause
        self.retryable = retryable
        self.message = message or f"{stage} raised {type(cause).__name__}: {cause}"
        self.test = test
        # True when the attempt's thread or task may still hold the agent (a timeout).
        self.abandoned = abandoned
        super().__init__(self.message)

    def error_record(self, attempts: int) -> dict[str, Any]:
        """The ``error`` object put on a failed test."""
        return {"type": type(self.cause).__name__, "message": self.message, "attempts": attempts}


@dataclass(frozen=True)
class Callbacks:
    """The user's hooks; each may be None."""

    on_scenario: Callable[..., Any] | None = None
    on_action: Callable[..., Any] | None = None
    on_environment: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Step:
    """A call for the driver to make. ``agent_call`` marks the agent's own methods."""

    stage: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    agent_call: bool = False


def accepts_scenario_id(method: Any) -> bool:
    """Whether ``method`` takes a ``scenario_id`` keyword (by name or through ``**kwargs``)."""
    func = getattr(method, "__func__", None)
    if func is None:
        return _accepts_scenario_id(method)
    try:
        return _accepts_cached(func)  # a bound method: the answer is its function's
    except TypeError:  # unhashable
        return _accepts_scenario_id(method)


@functools.lru_cache(maxsize=256)
def _accepts_cached(func: Any) -> bool:
    # Ask about the function with ``self`` already bound, so positional-only rules still apply.
    return _accepts_scenario_id(functools.partial(func, None))


def _accepts_scenario_id(method: Any) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.name == "scenario_id" and p.kind is not inspect.Parameter.POSITIONAL_ONLY)
        or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )


def _actual_call(call: Any, where: str) -> dict[str, Any]:
    """An agent's tool call as ``{"name", "arguments_json"}``, the form the runner records.

    ``arguments`` may be a dict or, as OpenAI sends it, a JSON string of an object.
    """
    if not isinstance(call, Mapping):
        raise InvalidAgentResponse(f"{where}: expected a dict, got {type(call).__name__}")
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidAgentResponse(f"{where}.name: expected a non-empty string, got {name!r}")
    arguments = call.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise InvalidAgentResponse(f"{where}.arguments: not valid JSON ({exc})") from exc
    else:
        arguments = extract_tool_args(dict(call))
    if not isinstance(arguments, dict):
        raise InvalidAgentResponse(
            f"{where}.arguments: expected a dict, got {type(arguments).__name__}"
        )
    try:
        arguments_json = json.dumps(arguments)
    except (TypeError, ValueError) as exc:
        raise InvalidAgentResponse(f"{where}.arguments: not JSON-serialisable ({exc})") from exc
    return {"name": name, "arguments_json": arguments_json}


def _tool_calls(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        raise InvalidAgentResponse(f"{where}: expected a list, got {type(value).__name__}")
    return [_actual_call(call, f"{where}[{n}]") for n, call in enumerate(value)]


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidAgentResponse(f"{where}: expected a string, got {type(value).__name__}")
    return value


class _Turn:
    """What the agent said last: the text and the tool calls not yet paired."""

    def __init__(self) -> None:
        self.text = ""
        self.tools: list[dict[str, Any]] = []

    def replace(self, result: Any) -> None:
        """Take a ``respond()`` result: both pieces of state are replaced."""
        if not isinstance(result, Mapping):
            raise InvalidAgentResponse(
                "respond() must return a dict with 'text' and 'tool_calls', "
                f"got {type(result).__name__}"
            )
        text = _text(result.get("text"), "respond()['text']")
        tools = result.get("tool_calls")
        self.tools = [] if tools is None else _tool_calls(tools, "respond()['tool_calls']")
        self.text = text

    def merge_environment(self, result: Any) -> None:
        """Take an ``on_environment`` result: only the keys it has change the state."""
        if not result or not isinstance(result, Mapping):
            return
        if "text" in result:
            self.text = _text(result["text"], "on_environment()['text']")
        if result.get("tool_calls") is not None:
            self.tools = _tool_calls(result["tool_calls"], "on_environment()['tool_calls']")


def _record_agent_action(
    test: TestBuilder,
    turn: _Turn,
    index: int,
    action: Mapping[str, Any],
    next_is_agent: bool,
    pairing: str,
) -> None:
    expected_response = action.get("expected_response") or {}
    expected_tools = list(expected_response.get("tool_calls") or [])
    pool = turn.tools
    leftover: list[dict[str, Any]] = []
    for exp_index, act_index in _pairs(expected_tools, pool, pairing):
        if exp_index is None:
            assert act_index is not None
            leftover.append(pool[act_index])
            continue
        expected = expected_tools[exp_index]
        actual = (
            pool[act_index]
            if act_index is not None
            else {"name": NOT_CALLED, "arguments_json": "{}"}
        )
        status, comparison = compare_args_structural(expected, actual)
        test.add_tool_call(
            expected=expected,
            actual=actual,
            match_status=status,
            argument_comparison=dict(comparison),
            action_index=index,
        )
    if leftover and next_is_agent:
        turn.tools = leftover
    else:
        for actual in leftover:
            expected = {"name": NONE_EXPECTED, "arguments_json": "{}"}
            status, comparison = compare_args_structural(expected, actual)
            test.add_tool_call(
                expected=expected,
                actual=actual,
                match_status=status,
                argument_comparison=dict(comparison),
                action_index=index,
            )
        turn.tools = []
    content = _content(action)
    if content or turn.text:
        test.add_agent_response(
            expected_response={"text": content},
            actual_response={"text": turn.text},
            match_status="pending",
            action_index=index,
        )
    if not next_is_agent:
        turn.text = ""


def _pairs(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], pairing: str
) -> list[tuple[int | None, int | None]]:
    """``pair_tool_calls``, skipped when one side is empty (nothing can pair)."""
    if not expected or not actual:
        return [(i, None) for i in range(len(expected))] + [(None, j) for j in range(len(actual))]
    if pairing == "optimal" and _names_unique(expected) and _names_unique(actual):
        pairing = "greedy"  # with no repeated name both strategies pair alike; greedy is cheaper
    return pair_tool_calls(expected, actual, strategy=pairing)


def _names_unique(calls: list[dict[str, Any]]) -> bool:
    names = [call_name(c) for c in calls]
    return len(set(names)) == len(names)


def _content(action: Mapping[str, Any]) -> str:
    content = action.get("content")
    if content is None:
        return ""
    return content if isinstance(content, str) else str(content)


def scenario_steps(
    agent: Any,
    scenario_id: str,
    scenario: Mapping[str, Any],
    test: TestBuilder,
    callbacks: Callbacks,
    pairing: str,
) -> Generator[Step, Any, None]:
    """Run one scenario (protocol §5), yielding each call and recording into ``test``.

    The caller completes ``test`` when the generator finishes. Raises ``ScenarioFailure``.
    """
    actions: list[Mapping[str, Any]] = list(scenario.get("actions") or [])
    if callbacks.on_scenario is not None:
        yield Step("on_scenario", callbacks.on_scenario, (scenario_id, scenario))
    id_kwargs = {"scenario_id": scenario_id}
    reset_kwargs = id_kwargs if accepts_scenario_id(agent.reset) else {}
    yield Step("reset", agent.reset, (), reset_kwargs, agent_call=True)
    respond_kwargs = id_kwargs if accepts_scenario_id(agent.respond) else {}
    test.start()
    turn = _Turn()
    for index, action in enumerate(actions):
        if callbacks.on_action is not None:
            yield Step("on_action", callbacks.on_action, (index, action))
        actor = action.get("actor")
        content = _content(action)
        if actor == "agent":
            next_is_agent = index + 1 < len(actions) and actions[index + 1].get("actor") == "agent"
            _record_agent_action(test, turn, index, action, next_is_agent, pairing)
        elif actor == "environment":
            if callbacks.on_environment is not None:
                result = yield Step("on_environment", callbacks.on_environment, (content, action))
                try:
                    turn.merge_environment(result)
                except InvalidAgentResponse as exc:
                    raise ScenarioFailure(
                        "on_environment", exc, retryable=False, message=str(exc), test=test
                    ) from exc
        else:
            name = action.get("name")
            description = name if isinstance(name, str) else f"user_action_{index}"
            test.add_user_text(text=content, description=description, action_index=index)
            result = yield Step("respond", agent.respond, (content,), respond_kwargs, True)
            try:
                turn.replace(result)
            except InvalidAgentResponse as exc:
                raise ScenarioFailure(
                    "respond", exc, retryable=True, message=str(exc), test=test
                ) from exc

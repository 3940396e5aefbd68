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
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from .._matching import (
    NONE_EXPECTED,
    NOT_CALLED,
    compare_args_structural,
    extract_tool_args,
    pair_tool_calls,
)
from .._matching._args import call_name
from ._builders import TestBuilder, normalize_tool_call

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


# Shared by every step without keywords; never written to (a call's ** unpacking copies it, and a
# plain dict unpacks about three times faster than a read-only proxy).
_NO_KWARGS: dict[str, Any] = {}


class Step(NamedTuple):
    """A call for the driver to make. ``agent_call`` marks the agent's own methods.

    A tuple rather than a dataclass: a scenario makes one per call, and tuples are built fast.
    """

    stage: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = _NO_KWARGS
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


def _normalized(name: str, arguments_json: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What ``normalize_tool_call`` makes of ``{"name", "arguments_json"}`` (same key order)."""
    return {
        "name": name,
        "arguments_json": arguments_json,
        "tool_name": name,
        "arguments": arguments,
    }


def _actual_call(call: Any, where: str) -> dict[str, Any]:
    """An agent's tool call as the runner records it: ``{"name", "arguments_json"}`` normalised.

    ``arguments`` may be a dict or, as OpenAI sends it, a JSON string of an object. The recorded
    ``arguments`` are what JSON gives back for ``arguments_json``, as ``normalize_tool_call``
    would make them.
    """
    if not isinstance(call, Mapping):
        raise InvalidAgentResponse(f"{where}: expected a dict, got {type(call).__name__}")
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidAgentResponse(f"{where}.name: expected a non-empty string, got {name!r}")
    arguments = call.get("arguments")
    parsed = False  # whether `arguments` is our own parse of the agent's JSON string
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise InvalidAgentResponse(f"{where}.arguments: not valid JSON ({exc})") from exc
        parsed = True
    else:
        arguments = extract_tool_args(call)
    if not isinstance(arguments, dict):
        raise InvalidAgentResponse(
            f"{where}.arguments: expected a dict, got {type(arguments).__name__}"
        )
    try:
        arguments_json = json.dumps(arguments)
    except (TypeError, ValueError) as exc:
        raise InvalidAgentResponse(f"{where}.arguments: not JSON-serialisable ({exc})") from exc
    # Parsed JSON survives a dump and reload unchanged and nobody else holds it.
    recorded = arguments if parsed else _as_json_gives_back(arguments, arguments_json)
    return _normalized(name, arguments_json, recorded)


_JSON_SCALARS = (str, int, float, bool, type(None))


def _as_json_gives_back(arguments: dict[Any, Any], arguments_json: str) -> dict[str, Any]:
    """``json.loads(arguments_json)`` for the agent's ``arguments`` dict, as a new dict.

    A flat dict of string keys and plain scalars (the usual tool call) comes back equal, so a
    shallow copy stands in for the parse; anything else (tuples, non-string keys, nesting,
    subclasses) is parsed.
    """
    if all(type(key) is str for key in arguments) and all(
        type(value) in _JSON_SCALARS for value in arguments.values()
    ):
        return dict(arguments)
    return cast("dict[str, Any]", json.loads(arguments_json))


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
    content: str,
    next_is_agent: bool,
    pairing: str,
) -> None:
    expected_response = action.get("expected_response") or {}
    expected_tools = list(expected_response.get("tool_calls") or [])
    pool = turn.tools
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    leftover: list[dict[str, Any]] = []
    for exp_index, act_index in _pairs(expected_tools, pool, pairing):
        if exp_index is None:
            assert act_index is not None
            leftover.append(pool[act_index])
            continue
        actual = pool[act_index] if act_index is not None else _normalized(NOT_CALLED, "{}", {})
        pairs.append((expected_tools[exp_index], actual))
    if leftover and next_is_agent:
        turn.tools = leftover
    else:
        pairs.extend(({"name": NONE_EXPECTED, "arguments_json": "{}"}, a) for a in leftover)
        turn.tools = []
    for raw, actual in pairs:
        expected = normalize_tool_call(raw, "expected")
        # Without `arguments`, normalising only parses arguments_json as the comparison would, so
        # the parsed copy serves both. An `arguments` that is not a dict is not what the
        # comparison reads, and normalising may turn it into an arguments_json that it does.
        compared = expected if "arguments" not in raw else raw
        status, comparison = compare_args_structural(compared, actual)
        test._record_tool_call(expected, actual, status, dict(comparison), index)
    if content or turn.text:
        test._record_agent_response(
            {"text": content}, {"text": turn.text}, "pending", None, None, index
        )
    if not next_is_agent:
        turn.text = ""


def _pairs(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], pairing: str
) -> list[tuple[int | None, int | None]]:
    """``pair_tool_calls``, skipped when one side is empty (nothing can pair)."""
    if not expected or not actual:
        return [(i, None) for i in range(len(expected))] + [(None, j) for j in range(len(actual))]
    if len(expected) == len(actual) == 1 and isinstance(expected[0], dict):
        # One call each, the common turn: what the greedy pairing below would answer.
        if call_name(expected[0]) == call_name(actual[0]):
            return [(0, 0)]
        return [(0, None), (None, 0)]
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
    reset = agent.reset
    yield Step("reset", reset, (), id_kwargs if accepts_scenario_id(reset) else _NO_KWARGS, True)
    respond = agent.respond  # one bound method for the scenario: the driver may cache about it
    respond_kwargs = id_kwargs if accepts_scenario_id(respond) else _NO_KWARGS
    test.start()
    turn = _Turn()
    for index, action in enumerate(actions):
        if callbacks.on_action is not None:
            yield Step("on_action", callbacks.on_action, (index, action))
        actor = action.get("actor")
        content = _content(action)
        if actor == "agent":
            next_is_agent = index + 1 < len(actions) and actions[index + 1].get("actor") == "agent"
            _record_agent_action(test, turn, index, action, content, next_is_agent, pairing)
        elif actor == "environment":
            if callbacks.on_environment is not None:
                result = yield Step("on_environment", callbacks.on_environment, (content, action))
                try:
                    turn.merge_environment(result)
                except InvalidAgentResponse as exc:
                    raise _bad_turn("on_environment", exc, test) from exc
        else:
            name = action.get("name")
            description = name if isinstance(name, str) else f"user_action_{index}"
            test._record_user_text(content, description, index)
            result = yield Step("respond", respond, (content,), respond_kwargs, True)
            try:
                turn.replace(result)
            except InvalidAgentResponse as exc:
                raise _bad_turn("respond", exc, test) from exc


def _bad_turn(stage: str, exc: InvalidAgentResponse, test: TestBuilder) -> ScenarioFailure:
    """The failure for an invalid turn; the agent's own answer may come out right on a retry."""
    return ScenarioFailure(stage, exc, retryable=stage == "respond", message=str(exc), test=test)

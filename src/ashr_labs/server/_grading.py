"""Grading a submitted run result (protocol.md §4.4–§4.7) into a new, graded result document.

``grade_run(result, agent_config=..., llm=None)`` is pure: it copies ``result``, grades every
test and returns the copy; only the optional ``llm`` judge does I/O. The agent's
``grading_config`` drives it:

* ``tool_strictness[tool]``: ``required`` (the default for a tool not listed, unless
  ``tool_definitions`` marks it ``required: false``, which means ``expected``): a mismatched or
  NOT_CALLED call fails the test; ``expected``: NOT_CALLED is a warning; ``optional``: a
  NOT_CALLED step whose agent text reaches the intent (``text_similarity`` of actual vs
  expected text at the same action index ≥ the threshold) is recovered as ``partial``, else a
  warning. ``forbidden`` (our addition): the tool must not be called at all; an unexpected call
  (NONE_EXPECTED) of it fails the test. Other unexpected calls are warnings.
* ``text_similarity_threshold`` (default 0.5; agents can lower it, e.g. for other languages).
  Each ``pending`` agent text gets ``semantic_similarity`` (``text_similarity``, or the LLM
  judge's score) and ``match_status`` ``exact`` (≥ 0.95), ``similar`` (≥ threshold) or
  ``divergent``; an empty actual text when one was expected is ``missed``; with no expected
  text it is ``exact``. ``divergent`` and ``missed`` fail the test, as do texts already marked
  ``mismatch``/``divergent``/``missed``.

Tool-call entries use their ``argument_comparison`` (recomputed with
``compare_args_structural`` when absent or malformed, and then stored) to set ``match_status``
``exact``/``partial``/``mismatch``. A failing test's ``status`` becomes ``failed``; a test that
was already ``failed`` stays failed with that reason. Each test gains ``grading``:
``{"passed", "reasons" (why it failed), "warnings", "text_similarity_threshold", "judge"}``.
``aggregate_metrics`` is recomputed (§4.6, six keys, ``tests_passed`` an int).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._matching import (
    NONE_EXPECTED,
    NOT_CALLED,
    call_name,
    compare_args_structural,
    text_similarity,
)
from .._run_metrics import aggregate_metrics

if TYPE_CHECKING:
    from ._llm import LlmClient

__all__ = ["DEFAULT_TEXT_THRESHOLD", "GradingError", "aggregate_metrics", "grade_run"]

DEFAULT_TEXT_THRESHOLD = 0.5
EXACT_TEXT_SCORE = 0.95
STRICTNESS = ("required", "expected", "optional", "forbidden")
_BUCKETS = ("matching", "different", "missing", "extra")
_FAILED_TEXT = ("mismatch", "divergent", "missed")


class GradingError(Exception):
    """A run result or grading config that cannot be graded, or a failed LLM judge."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Policy:
    """The agent's grading settings, checked."""

    def __init__(self, agent_config: Mapping[str, Any] | None) -> None:
        config = agent_config or {}
        if not isinstance(config, Mapping):
            raise GradingError("agent_config: expected an object or null")
        grading = config.get("grading_config")
        grading = {} if grading is None else grading
        if not isinstance(grading, Mapping):
            raise GradingError("agent_config.grading_config: expected an object")
        self.defaults: dict[str, str] = {}
        for tool in config.get("tool_definitions") or []:
            if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
                self.defaults[tool["name"]] = (
                    "expected" if tool.get("required") is False else "required"
                )
        strictness = grading.get("tool_strictness")
        strictness = {} if strictness is None else strictness
        if not isinstance(strictness, Mapping):
            raise GradingError("grading_config.tool_strictness: expected an object")
        for tool, level in strictness.items():
            if level not in STRICTNESS:
                raise GradingError(
                    f"grading_config.tool_strictness.{tool}: expected one of "
                    f"{', '.join(STRICTNESS)}, got {level!r}"
                )
        self.strictness: Mapping[str, str] = strictness
        threshold = grading.get("text_similarity_threshold", DEFAULT_TEXT_THRESHOLD)
        if threshold is None:
            threshold = DEFAULT_TEXT_THRESHOLD
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not (0 <= threshold <= 1)
        ):
            raise GradingError(
                "grading_config.text_similarity_threshold: expected a number 0–1, "
                f"got {threshold!r}"
            )
        self.threshold = float(threshold)

    def level(self, tool: Any) -> str:
        name = tool if isinstance(tool, str) else ""
        return self.strictness.get(name) or self.defaults.get(name, "required")


class _TestGrader:
    """Grades one test document in place, collecting failure reasons and warnings."""

    def __init__(self, test: dict[str, Any], policy: _Policy, llm: LlmClient | None) -> None:
        self.test = test
        self.policy = policy
        self.llm = llm
        self.reasons: list[str] = []
        self.warnings: list[str] = []
        actions = test.get("action_results")
        if not isinstance(actions, list):
            raise GradingError(f"tests[{test.get('test_id')!r}].action_results: expected an array")
        self.actions = [a for a in actions if isinstance(a, dict)]

    def grade(self) -> None:
        for action in self.actions:
            if action.get("action_type") == "text" and action.get("actor") == "agent":
                self._grade_text(action)
        for action in self.actions:
            if action.get("action_type") == "tool_call":
                calls = action.get("tool_calls")
                for entry in calls if isinstance(calls, list) else []:
                    if isinstance(entry, dict):
                        self._grade_call(entry, action.get("action_index"))
        previous = self.test.get("status")
        if previous == "failed":
            self.reasons.insert(0, "the test had already failed when it ran")
        elif self.reasons:
            self.test["status"] = "failed"
        self.test["grading"] = {
            "passed": not self.reasons,
            "reasons": self.reasons,
            "warnings": self.warnings,
            "text_similarity_threshold": self.policy.threshold,
            "judge": "llm" if self.llm is not None else "text_similarity",
        }

    # -- tool calls -------------------------------------------------------------------------------
    def _grade_call(self, entry: dict[str, Any], index: Any) -> None:
        expected = _object(entry.get("expected"))
        actual = _object(entry.get("actual"))
        wanted, made = call_name(expected), call_name(actual)
        comparison: Mapping[str, Mapping[str, Any]]
        given = entry.get("argument_comparison")
        if isinstance(given, Mapping) and _valid_comparison(given):
            comparison = given
        else:
            try:
                _, comparison = compare_args_structural(expected, actual)
            except TypeError as exc:
                raise GradingError(f"tool call at action {index}: {exc}") from exc
            entry["argument_comparison"] = comparison
        where = f"action {index}"
        if made == NOT_CALLED:
            entry["match_status"] = "mismatch"
            self._not_called(entry, wanted, index)
        elif wanted == NONE_EXPECTED:
            entry["match_status"] = "mismatch"
            message = f"{where}: unexpected call of {made}"
            if self.policy.strictness.get(made) == "forbidden":
                self.reasons.append(message + " (forbidden)")
            else:
                self.warnings.append(message)
        elif wanted != made:
            entry["match_status"] = "mismatch"
            self._problem(wanted, f"{where}: expected {wanted}, the agent called {made}")
        elif comparison["different"] or comparison["missing"] or comparison["extra"]:
            entry["match_status"] = "partial"
            self.warnings.append(f"{where}: {wanted} arguments differ ({_summary(comparison)})")
        else:
            entry["match_status"] = "exact"

    def _not_called(self, entry: dict[str, Any], tool: Any, index: Any) -> None:
        level = self.policy.level(tool)
        message = f"action {index}: {level} tool {tool} was not called"
        if level == "optional":
            score = self._recovery_score(index)
            if score is not None and score >= self.policy.threshold:
                entry["match_status"] = "partial"
                entry["divergence_notes"] = (
                    f"recovered: the agent's text reached the intent (similarity {score})"
                )
                self.warnings.append(f"{message}; recovered through text (similarity {score})")
                return
        self._problem(tool, message)

    def _problem(self, tool: Any, message: str) -> None:
        if self.policy.level(tool) in ("required", "forbidden"):
            self.reasons.append(message)
        else:
            self.warnings.append(message)

    def _recovery_score(self, index: Any) -> float | None:
        """Similarity of the agent's text at ``index`` to the expected text, if there is one."""
        for action in self.actions:
            if (
                action.get("action_type") == "text"
                and action.get("actor") == "agent"
                and action.get("action_index") == index
            ):
                score = action.get("semantic_similarity")
                if isinstance(score, (int, float)) and math.isfinite(score):
                    return float(score)
                expected = _text(action.get("expected_response"))
                actual = _text(action.get("actual_response"))
                return text_similarity(expected, actual) if expected and actual else None
        return None

    # -- agent text -------------------------------------------------------------------------------
    def _grade_text(self, action: dict[str, Any]) -> None:
        index = action.get("action_index")
        if action.get("match_status") != "pending":
            if action.get("match_status") in _FAILED_TEXT:
                self.reasons.append(f"action {index}: response {action['match_status']}")
            return
        expected = _text(action.get("expected_response"))
        actual = _text(action.get("actual_response"))
        if not expected.strip():
            action["match_status"] = "exact"
            return
        if not actual.strip():
            action["match_status"] = "missed"
            action["semantic_similarity"] = 0.0
            self.reasons.append(f"action {index}: no response where one was expected")
            return
        score = self._score(expected, actual)
        action["semantic_similarity"] = score
        if score >= EXACT_TEXT_SCORE:
            action["match_status"] = "exact"
        elif score >= self.policy.threshold:
            action["match_status"] = "similar"
        else:
            action["match_status"] = "divergent"
            self.reasons.append(
                f"action {index}: response divergent (similarity {score} < {self.policy.threshold})"
            )

    def _score(self, expected: str, actual: str) -> float:
        if self.llm is None:
            return text_similarity(expected, actual)
        try:
            return float(self.llm.judge_similarity(expected, actual))
        except Exception as exc:  # the judge's own errors become a readable grading failure
            raise GradingError(f"LLM judge failed: {exc}") from exc


def _text(response: Any) -> str:
    if isinstance(response, Mapping):
        value = response.get("text")
        return value if isinstance(value, str) else ""
    return response if isinstance(response, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _valid_comparison(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(value.get(b), Mapping) for b in _BUCKETS)


def _summary(comparison: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [
        f"{bucket}: {', '.join(map(str, comparison[bucket]))}"
        for bucket in ("different", "missing", "extra")
        if comparison[bucket]
    ]
    return "; ".join(parts)


def grade_run(
    result: dict[str, Any],
    *,
    agent_config: dict[str, Any] | None,
    llm: LlmClient | None = None,
) -> dict[str, Any]:
    """Return a graded copy of ``result`` (rules in the module docstring).

    Raises ``GradingError`` naming the field when ``result`` or the grading config is unusable,
    or when the LLM judge fails (there is no silent fallback to another scorer).
    """
    if not isinstance(result, Mapping):
        raise GradingError("result: expected a run result object")
    # A free-form result (the reference's create_run example: status, score, metrics) has no
    # tests to grade: it is graded as zero tests, its own fields kept.
    tests = result.get("tests", [])
    if not isinstance(tests, list):
        raise GradingError("result.tests: expected an array of test objects")
    policy = _Policy(agent_config)
    graded = copy.deepcopy(dict(result))
    for i, test in enumerate(graded.get("tests", [])):
        if not isinstance(test, dict):
            raise GradingError(f"result.tests[{i}]: expected a test object")
        _TestGrader(test, policy, llm).grade()
    graded["aggregate_metrics"] = aggregate_metrics(graded.get("tests", []))
    return graded

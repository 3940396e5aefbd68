"""RunBuilder and TestBuilder: build the run result document of protocol §4.4–4.6 and §4.8.

The documents match the published client's key for key. What differs is how the builders treat
their callers: every argument is checked before anything changes (a bad call raises
``ConfigurationError`` naming the field and leaves the builder as it was), each builder holds a
lock so tests can be added and filled from several threads, and ``build()`` returns a copy that
later calls cannot change.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._errors import ConfigurationError
from .._log import logger
from .._run_metrics import aggregate_metrics

if TYPE_CHECKING:
    from .._client import AshrLabsClient

__all__ = ["RunBuilder", "TestBuilder", "normalize_tool_call"]

TOOL_CALL_STATUSES = ("exact", "partial", "mismatch")
# "pending" is what EvalRunner submits for server-side grading; "missed" is a grader verdict.
RESPONSE_STATUSES = ("exact", "similar", "divergent", "pending", "missed")

# (second, its text): an eval starts and ends many tests within one second.
_stamp: tuple[int, str] = (-1, "")


def _now() -> str:
    """UTC now in whole seconds, ``YYYY-MM-DDTHH:MM:SSZ`` (protocol §4.1)."""
    global _stamp
    second = int(time.time())
    stamp = _stamp
    if stamp[0] != second:
        stamp = _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return stamp[1]


# --- argument checks (each raises ConfigurationError naming the field) ---


def _check_str(value: Any, field: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{field}: expected a string, got {type(value).__name__}")
    if not allow_empty and not value:
        raise ConfigurationError(f"{field}: expected a non-empty string")
    return value


def _check_optional_str(value: Any, field: str) -> None:
    if value is not None:
        _check_str(value, field)


def _check_dict(value: Any, field: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{field}: expected a dict, got {type(value).__name__}")


def _check_index(value: Any, field: str = "action_index") -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{field}: expected a non-negative int, got {value!r}")
    if value < 0:
        raise ConfigurationError(f"{field}: expected a non-negative int, got {value}")


def _check_choice(value: Any, field: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigurationError(f"{field}: expected one of {allowed}, got {value!r}")


def _check_similarity(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"semantic_similarity: expected a number from 0.0 to 1.0, got {value!r}"
        )
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(
            f"semantic_similarity: expected a number from 0.0 to 1.0, got {value!r}"
        )


def _check_non_negative_int(value: Any, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{field}: expected a non-negative int, got {value!r}")


def _check_logs(logs: Any) -> None:
    if logs is None:
        return
    if not isinstance(logs, list):
        raise ConfigurationError(f"logs: expected a list of dicts, got {type(logs).__name__}")
    for n, entry in enumerate(logs):
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"logs[{n}]: expected a dict, got {type(entry).__name__}")
        ts = entry.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
            raise ConfigurationError(f"logs[{n}].ts: expected a non-negative int (ms), got {ts!r}")
        _check_str(entry.get("type"), f"logs[{n}].type", allow_empty=False)


# --- document pieces ---


def normalize_tool_call(call: Mapping[str, Any], field: str = "tool_call") -> dict[str, Any]:
    """Copy a tool call and fill in ``tool_name``/``name`` and ``arguments``/``arguments_json``.

    Protocol §4.5: existing keys are never overwritten; JSON dumps use the standard encoder's
    default separators and ASCII escaping. Raises ``ConfigurationError`` naming ``field`` when
    ``arguments`` is a dict that JSON cannot encode (the published client raised ``TypeError``).
    """
    out = dict(call)
    if "tool_name" not in out and "name" in out:
        out["tool_name"] = out["name"]
    elif "name" not in out and "tool_name" in out:
        out["name"] = out["tool_name"]
    if "arguments" not in out and "arguments_json" in out:
        raw = out["arguments_json"]
        if isinstance(raw, str):
            try:
                out["arguments"] = json.loads(raw)
            except ValueError:
                out["arguments"] = {}
        else:
            out["arguments"] = raw
    elif "arguments_json" not in out and "arguments" in out:
        args = out["arguments"]
        if isinstance(args, dict):
            try:
                out["arguments_json"] = json.dumps(args)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"{field}.arguments: expected JSON-serialisable values ({exc})"
                ) from exc
        else:
            out["arguments_json"] = str(args)
    return out


_B = TypeVar("_B", bound="_Lifecycle")


class _Lifecycle:
    """What a test and a run share: a lock, a status, and the start and completion times."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._status = "pending"
        self._started_at: str | None = None
        self._completed_at: str | None = None

    @property
    def status(self) -> str:
        """``pending``, ``running``, or the status given to ``complete()``."""
        return self._status

    def start(self: _B) -> _B:
        """Mark as started and record the current time."""
        with self._lock:
            self._status = "running"
            self._started_at = _now()
        return self

    def complete(self: _B, status: str = "completed") -> _B:
        """Mark as finished (``completed`` or ``failed``) and record the current time."""
        _check_str(status, "status", allow_empty=False)
        with self._lock:
            self._status = status
            self._completed_at = _now()
        return self


class TestBuilder(_Lifecycle):
    """Builds one test result (protocol §4.4) incrementally. Returned by ``RunBuilder.add_test``.

    Every method returns ``self`` for chaining, checks its arguments before it changes anything,
    and holds the builder's lock, so one test may be filled from several threads.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, test_id: str) -> None:
        _check_str(test_id, "test_id", allow_empty=False)
        super().__init__()
        self._test_id = test_id
        self._action_results: list[dict[str, Any]] = []
        self._next_index = 0
        self._vm_stream: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None

    @property
    def test_id(self) -> str:
        """The test id (the scenario id in the dataset)."""
        return self._test_id

    def _take_index(self, explicit: int | None) -> int:
        if explicit is not None:
            self._next_index = explicit + 1
            return explicit
        index = self._next_index
        self._next_index += 1
        return index

    def add_user_file(
        self, file_path: str, description: str, action_index: int | None = None
    ) -> TestBuilder:
        """Record a user file input (``file_path`` is dataset-relative)."""
        _check_str(file_path, "file_path", allow_empty=False)
        _check_str(description, "description")
        _check_index(action_index)
        with self._lock:
            self._action_results.append(
                {
                    "actor": "user",
                    "action_type": "file",
                    "action_index": self._take_index(action_index),
                    "description": description,
                    "file_path": file_path,
                    "input_provided": True,
                }
            )
        return self

    def add_user_text(
        self, text: str, description: str, action_index: int | None = None
    ) -> TestBuilder:
        """Record a user text input."""
        _check_str(text, "text")
        _check_str(description, "description")
        _check_index(action_index)
        return self._record_user_text(text, description, action_index)

    def _record_user_text(
        self, text: str, description: str, action_index: int | None
    ) -> TestBuilder:
        """``add_user_text`` after its checks; EvalRunner's arguments need none."""
        with self._lock:
            self._action_results.append(
                {
                    "actor": "user",
                    "action_type": "text",
                    "action_index": self._take_index(action_index),
                    "description": description,
                    "text": text,
                    "input_provided": True,
                }
            )
        return self

    def add_tool_call(
        self,
        expected: dict[str, Any],
        actual: dict[str, Any],
        match_status: str,
        divergence_notes: str | None = None,
        argument_comparison: dict[str, Any] | None = None,
        action_index: int | None = None,
    ) -> TestBuilder:
        """Record a tool call, expected against actual.

        Both sides are normalised (protocol §4.5). Calls given the same explicit
        ``action_index`` are merged into one ``tool_call`` action result. Leaving out
        ``argument_comparison`` emits a ``UserWarning``, as the published client does: the
        backend grader may skip such calls (``EvalRunner`` always supplies it).
        """
        _check_dict(expected, "expected")
        _check_dict(actual, "actual")
        _check_choice(match_status, "match_status", TOOL_CALL_STATUSES)
        _check_optional_str(divergence_notes, "divergence_notes")
        if argument_comparison is not None:
            _check_dict(argument_comparison, "argument_comparison")
        _check_index(action_index)
        entry: dict[str, Any] = {
            "expected": normalize_tool_call(expected, "expected"),
            "actual": normalize_tool_call(actual, "actual"),
            "match_status": match_status,
            "divergence_notes": divergence_notes,
        }
        if argument_comparison is not None:
            entry["argument_comparison"] = argument_comparison
        else:
            name = expected.get("name") or expected.get("tool_name") or "?"
            warnings.warn(
                f"Tool call {name!r} has no argument_comparison, so the backend grader may skip "
                "it. Pass compare_args_structural(expected, actual)[1].",
                UserWarning,
                stacklevel=2,
            )
        return self._add_tool_call_entry(entry, action_index)

    def _record_tool_call(
        self,
        expected: dict[str, Any],
        actual: dict[str, Any],
        match_status: str,
        argument_comparison: dict[str, Any],
        action_index: int,
    ) -> TestBuilder:
        """``add_tool_call`` for EvalRunner, whose calls are already normalised and checked.

        The runner records every tool call through here, so the checks and the JSON round
        trips of the public method are not paid twice per call.
        """
        entry = {
            "expected": expected,
            "actual": actual,
            "match_status": match_status,
            "divergence_notes": None,
            "argument_comparison": argument_comparison,
        }
        return self._add_tool_call_entry(entry, action_index)

    def _add_tool_call_entry(self, entry: dict[str, Any], action_index: int | None) -> TestBuilder:
        """Append ``entry`` to the ``tool_call`` action at ``action_index`` (made if absent)."""
        with self._lock:
            index = self._take_index(action_index)
            for result in self._action_results:
                if result["action_type"] == "tool_call" and result["action_index"] == index:
                    result["tool_calls"].append(entry)
                    break
            else:
                self._action_results.append(
                    {
                        "actor": "agent",
                        "action_type": "tool_call",
                        "action_index": index,
                        "tool_calls": [entry],
                    }
                )
        return self

    def add_agent_response(
        self,
        expected_response: dict[str, Any],
        actual_response: dict[str, Any],
        match_status: str,
        semantic_similarity: float | None = None,
        divergence_notes: str | None = None,
        action_index: int | None = None,
    ) -> TestBuilder:
        """Record an agent text response, expected against actual.

        ``match_status`` is ``exact``, ``similar`` or ``divergent`` (``pending`` leaves it to the
        server's grader, as ``EvalRunner`` does). ``semantic_similarity`` appears in the document
        only when given.
        """
        _check_dict(expected_response, "expected_response")
        _check_dict(actual_response, "actual_response")
        _check_choice(match_status, "match_status", RESPONSE_STATUSES)
        _check_similarity(semantic_similarity)
        _check_optional_str(divergence_notes, "divergence_notes")
        _check_index(action_index)
        return self._record_agent_response(
            dict(expected_response),
            dict(actual_response),
            match_status,
            semantic_similarity,
            divergence_notes,
            action_index,
        )

    def _record_agent_response(
        self,
        expected_response: dict[str, Any],
        actual_response: dict[str, Any],
        match_status: str,
        semantic_similarity: float | None,
        divergence_notes: str | None,
        action_index: int | None,
    ) -> TestBuilder:
        """``add_agent_response`` after its checks, keeping the given dicts (EvalRunner's are
        its own)."""
        with self._lock:
            result: dict[str, Any] = {
                "actor": "agent",
                "action_type": "text",
                "action_index": self._take_index(action_index),
                "expected_response": expected_response,
                "actual_response": actual_response,
                "match_status": match_status,
                "divergence_notes": divergence_notes,
            }
            if semantic_similarity is not None:
                result["semantic_similarity"] = semantic_similarity
            self._action_results.append(result)
        return self

    def set_vm_stream(
        self,
        provider: str,
        session_id: str | None = None,
        duration_ms: int | None = None,
        logs: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> TestBuilder:
        """Attach VM session logs (protocol §4.8); a later call replaces the earlier stream.

        Only the arguments that are not None are stored. Each log entry needs ``ts`` (int ms
        offset from the start) and ``type`` (str).
        """
        _check_str(provider, "provider", allow_empty=False)
        _check_optional_str(session_id, "session_id")
        _check_non_negative_int(duration_ms, "duration_ms")
        _check_logs(logs)
        if metadata is not None:
            _check_dict(metadata, "metadata")
        stream: dict[str, Any] = {"provider": provider}
        for key, value in (
            ("session_id", session_id),
            ("duration_ms", duration_ms),
            ("logs", logs),
            ("metadata", metadata),
        ):
            if value is not None:
                stream[key] = value
        with self._lock:
            self._vm_stream = stream
        return self

    def set_kernel_vm(
        self,
        session_id: str,
        duration_ms: int | None = None,
        logs: list[dict[str, Any]] | None = None,
        *,
        live_view_url: str | None = None,
        cdp_ws_url: str | None = None,
        replay_id: str | None = None,
        replay_view_url: str | None = None,
        headless: bool | None = None,
        stealth: bool | None = None,
        viewport: dict[str, Any] | None = None,
    ) -> TestBuilder:
        """Attach a Kernel browser session: ``provider="kernel"``, Kernel fields as metadata.

        ``metadata`` holds whichever Kernel fields are not None and is left out when all are.
        """
        _check_str(session_id, "session_id", allow_empty=False)
        values = {
            "live_view_url": live_view_url,
            "cdp_ws_url": cdp_ws_url,
            "replay_id": replay_id,
            "replay_view_url": replay_view_url,
            "headless": headless,
            "stealth": stealth,
            "viewport": viewport,
        }
        for key in ("live_view_url", "cdp_ws_url", "replay_id", "replay_view_url"):
            _check_optional_str(values[key], key)
        for key in ("headless", "stealth"):
            if values[key] is not None and not isinstance(values[key], bool):
                raise ConfigurationError(f"{key}: expected a bool, got {values[key]!r}")
        if viewport is not None:
            _check_dict(viewport, "viewport")
        metadata = {key: value for key, value in values.items() if value is not None}
        return self.set_vm_stream(
            provider="kernel",
            session_id=session_id,
            duration_ms=duration_ms,
            logs=logs,
            metadata=metadata or None,
        )

    def _fail(self, error: dict[str, Any]) -> TestBuilder:
        """Complete as ``failed`` with an ``error`` object (EvalRunner's failure record)."""
        with self._lock:
            if self._started_at is None:
                self.start()
            self._error = dict(error)
        return self.complete("failed")

    def _copy(self) -> TestBuilder:
        """An independent builder holding this one's state (used when a thread is abandoned)."""
        with self._lock:
            twin = TestBuilder(self._test_id)
            twin._status = self._status
            twin._started_at = self._started_at
            twin._completed_at = self._completed_at
            twin._action_results = copy.deepcopy(self._action_results)
            twin._next_index = self._next_index
            twin._vm_stream = copy.deepcopy(self._vm_stream)
            twin._error = copy.deepcopy(self._error)
        return twin

    def build(self) -> dict[str, Any]:
        """The test document: ``test_id``, ``status``, ``action_results``, and ``started_at``,
        ``completed_at`` and ``vm_stream`` when set.

        A test that ``EvalRunner`` recorded as failed also carries ``error``:
        ``{"type": <exception class>, "message": <where and what>, "attempts": <n>}``.
        """
        with self._lock:
            result: dict[str, Any] = {
                "test_id": self._test_id,
                "status": self._status,
                "action_results": copy.deepcopy(self._action_results),
            }
            if self._started_at is not None:
                result["started_at"] = self._started_at
            if self._completed_at is not None:
                result["completed_at"] = self._completed_at
            if self._vm_stream is not None:
                result["vm_stream"] = copy.deepcopy(self._vm_stream)
            if self._error is not None:
                result["error"] = dict(self._error)
        return result


class RunBuilder(_Lifecycle):
    """Builds a run result document (protocol §4.4) as an agent executes its tests.

    Thread-safe: ``add_test`` may be called from several threads; ``tests`` keeps insertion
    order. ``build()`` computes the aggregate metrics (§4.6).
    """

    def __init__(self) -> None:
        super().__init__()
        self._tests: list[TestBuilder] = []
        self._ids: set[str] = set()

    @property
    def tests(self) -> list[TestBuilder]:
        """The tests so far, in order (a new list each time; the builders are live)."""
        with self._lock:
            return list(self._tests)

    def add_test(self, test_id: str) -> TestBuilder:
        """Create and register a test; ``test_id`` must be a non-empty string unique in the run."""
        test = TestBuilder(test_id)
        self._append(test)
        return test

    def _append(self, test: TestBuilder) -> None:
        with self._lock:
            if test.test_id in self._ids:
                raise ConfigurationError(
                    f"test_id: {test.test_id!r} is already in this run (ids must be unique)"
                )
            self._ids.add(test.test_id)
            self._tests.append(test)

    def build(self) -> dict[str, Any]:
        """The run result document, ready for ``client.create_run(result=...)``."""
        with self._lock:
            tests = [t.build() for t in self._tests]
            return {
                "tests": tests,
                "status": self._status,
                "started_at": self._started_at,
                "completed_at": self._completed_at,
                "aggregate_metrics": aggregate_metrics(tests),
            }

    def deploy(
        self,
        client: AshrLabsClient,
        dataset_id: int,
        tenant_id: int | None = None,
        runner_id: int | None = None,
        agent_id: int | None = None,
    ) -> dict[str, Any]:
        """Build the result and submit it as a new run; returns the created run.

        With ``agent_id``, the dataset is first linked to that agent. If linking fails the deploy
        still goes ahead (the dataset may already be linked), but the failure is logged as a
        warning instead of being dropped silently as the published client does. Grading happens
        on the server afterwards; wait for it with ``client.poll_run(run["id"])``.
        """
        for name, value in (
            ("dataset_id", dataset_id),
            ("tenant_id", tenant_id),
            ("runner_id", runner_id),
            ("agent_id", agent_id),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(f"{name}: expected an int, got {value!r}")
        result = self.build()
        if agent_id is not None:
            try:
                client.set_dataset_agent(dataset_id, agent_id)
            except Exception as exc:
                logger.warning(
                    "could not link dataset %s to agent %s (deploying anyway): %s",
                    dataset_id,
                    agent_id,
                    exc,
                )
        created = client.create_run(
            dataset_id=dataset_id, result=result, tenant_id=tenant_id, runner_id=runner_id
        )
        return cast("dict[str, Any]", created)

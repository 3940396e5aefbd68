"""EvalRunner: run an agent against every scenario of a dataset and record a RunBuilder.

The rules of a scenario (protocol §5) live in ``_scenario``; this module decides where and how
the calls run: sequentially, on worker threads, or on one event loop for async agents, with
per-scenario timeouts, retries, and failures recorded on their own test.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import inspect
import math
import threading
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._errors import ConfigurationError
from .._log import logger
from ._builders import RunBuilder, TestBuilder
from ._progress import Progress
from ._scenario import Callbacks, ScenarioFailure, Step, scenario_steps

if TYPE_CHECKING:
    from .._client import AshrLabsClient

__all__ = ["Agent", "AsyncAgent", "EvalRunner"]

PAIRING_STRATEGIES = ("optimal", "greedy")


@runtime_checkable
class Agent(Protocol):
    """What ``EvalRunner`` drives: ``respond(message)`` and ``reset()``.

    ``respond`` returns ``{"text": str, "tool_calls": [{"name": str, "arguments": dict}]}``;
    ``reset`` clears conversation state before each scenario. When either method accepts a
    ``scenario_id`` keyword (or ``**kwargs``), the runner passes the scenario id.
    """

    def respond(self, message: str) -> dict[str, Any]: ...

    def reset(self) -> None: ...


@runtime_checkable
class AsyncAgent(Protocol):
    """An ``Agent`` whose methods are coroutines; run it with ``arun`` (or ``run``)."""

    async def respond(self, message: str) -> dict[str, Any]: ...

    async def reset(self) -> None: ...


class _Abandoned(Exception):
    """Raised inside an abandoned (timed-out) thread to stop its scenario at the next call."""


@dataclass(frozen=True)
class _Plan:
    callbacks: Callbacks
    pairing: str
    timeout_s: float | None
    retries: int


# --- where agents come from ---


class _AgentSource:
    """Hands out the agent for each scenario attempt: shared, deep-copied, or from a factory."""

    def __init__(
        self, agent: Any, factory: Callable[[], Any] | None, copies: bool, workers: int
    ) -> None:
        self._agent = agent
        self._factory = factory
        self._copies = copies and factory is None
        self._workers = workers
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._warned = False

    def acquire(self) -> Any:
        if self._factory is not None:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
            return self._make()
        if self._copies:
            try:
                return copy.deepcopy(self._agent)
            except Exception as exc:
                raise ScenarioFailure(
                    "deepcopy",
                    exc,
                    retryable=False,
                    message=(
                        f"could not deep-copy the agent for parallel execution (max_workers="
                        f"{self._workers}): {type(exc).__name__}: {exc}. Pass agent_factory= "
                        "to build one agent per worker, implement __deepcopy__, or use "
                        "max_workers=1"
                    ),
                ) from exc
        return self._agent

    def _make(self) -> Any:
        assert self._factory is not None
        try:
            agent = self._factory()
        except Exception as exc:
            raise ScenarioFailure("agent_factory", exc, retryable=False) from exc
        if not isinstance(agent, (Agent, AsyncAgent)):
            wrong = TypeError(f"agent_factory returned {type(agent).__name__}, not an Agent")
            raise ScenarioFailure("agent_factory", wrong, retryable=False, message=str(wrong))
        return agent

    def release(self, agent: Any, *, abandoned: bool) -> None:
        """Take the agent back; one that a timed-out call may still be using is not reused."""
        if self._factory is not None:
            if not abandoned:
                with self._lock:
                    self._idle.append(agent)
        elif abandoned and not self._copies and not self._warned:
            self._warned = True
            logger.warning(
                "a scenario timed out while the shared agent was busy; later scenarios reuse "
                "that agent (pass agent_factory= to get a fresh one after a timeout)"
            )


# --- drivers: make the calls a scenario asks for ---


def _failure(step: Step, exc: BaseException) -> ScenarioFailure:
    return ScenarioFailure(step.stage, exc, retryable=step.agent_call)


def _next(steps: Generator[Step, Any, None], value: Any) -> Step | None:
    try:
        return steps.send(value)
    except StopIteration:
        return None
    except ScenarioFailure:
        raise
    except Exception as exc:
        raise ScenarioFailure("eval", exc, retryable=False) from exc


def _drive_sync(steps: Generator[Step, Any, None], cancel: threading.Event | None) -> None:
    value: Any = None
    while (step := _next(steps, value)) is not None:
        if cancel is not None and cancel.is_set():
            steps.close()
            raise _Abandoned
        try:
            value = step.func(*step.args, **step.kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            steps.close()
            raise _failure(step, exc) from exc
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # never awaited on purpose; closing avoids a RuntimeWarning
            steps.close()
            wrong = TypeError(
                f"{step.stage}() returned an awaitable in a synchronous run; "
                "use `await runner.arun(...)` for async agents and callbacks"
            )
            raise ScenarioFailure(step.stage, wrong, retryable=False, message=str(wrong))


async def _drive_async(steps: Generator[Step, Any, None], abandonable: bool = False) -> None:
    value: Any = None
    # Whether the agent method last seen is sync; a scenario calls one bound `respond` many times.
    known: Any = None
    known_sync = False
    while (step := _next(steps, value)) is not None:
        try:
            if step.agent_call and step.func is not known:
                known, known_sync = step.func, not _is_async(step.func)
            if step.agent_call and known_sync:
                # A sync agent method must not block the loop the other scenarios share.
                if abandonable:
                    value = await _in_daemon_thread(step.func, *step.args, **step.kwargs)
                else:
                    value = await asyncio.to_thread(step.func, *step.args, **step.kwargs)
            else:
                value = step.func(*step.args, **step.kwargs)
                if inspect.isawaitable(value):
                    value = await value
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            steps.close()
            raise
        except BaseException as exc:
            steps.close()
            raise _failure(step, exc) from exc


async def _in_daemon_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Like ``asyncio.to_thread`` on a daemon thread of its own.

    Used under a scenario timeout: a call that never returns must not hold up the loop's
    shutdown (``asyncio.run`` joins the default executor's threads) or the interpreter's exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    ctx = contextvars.copy_context()

    def settle(ok: bool, outcome: Any) -> None:
        if future.done():  # cancelled by the timeout meanwhile
            return
        if ok:
            future.set_result(outcome)
        else:
            future.set_exception(outcome)

    def target() -> None:
        try:
            ok, outcome = True, ctx.run(func, *args, **kwargs)
        except BaseException as exc:
            ok, outcome = False, exc
        try:
            loop.call_soon_threadsafe(settle, ok, outcome)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this answer any more

    threading.Thread(target=target, name="ashr-eval-call", daemon=True).start()
    return await future


def _is_async(func: Any) -> bool:
    # An object whose __call__ is async counts too.
    dunder_call = getattr(type(func), "__call__", None)  # noqa: B004 - the method, not callable()
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(dunder_call)


def _timeout_failure(test: TestBuilder, timeout_s: float) -> ScenarioFailure:
    exc = TimeoutError(f"scenario did not finish within scenario_timeout_s={timeout_s:g}")
    return ScenarioFailure(
        "timeout", exc, retryable=True, message=str(exc), test=test._copy(), abandoned=True
    )


def _record_failure(scenario_id: str, failure: ScenarioFailure, attempts: int) -> TestBuilder:
    test = failure.test if failure.test is not None else TestBuilder(scenario_id)
    logger.warning("eval scenario %r failed: %s", scenario_id, failure.message)
    return test._fail(failure.error_record(attempts))


def _validate_source(source: Any) -> list[tuple[str, Any]]:
    """The scenarios with actions, in source order; raises naming the first bad field."""
    if not isinstance(source, Mapping):
        raise ConfigurationError(
            f"dataset_source: expected a dict with a 'runs' object, got {type(source).__name__}"
        )
    runs = source.get("runs")
    if runs is None:
        return []
    if not isinstance(runs, Mapping):
        raise ConfigurationError(
            "dataset_source.runs: expected an object mapping scenario ids to scenarios, "
            f"got {type(runs).__name__}"
        )
    scenarios = []
    for scenario_id, scenario in runs.items():
        where = f"dataset_source.runs[{scenario_id!r}]"
        if not isinstance(scenario_id, str) or not scenario_id:
            raise ConfigurationError(f"{where}: scenario ids must be non-empty strings")
        if not isinstance(scenario, Mapping):
            raise ConfigurationError(f"{where}: expected a dict, got {type(scenario).__name__}")
        actions = scenario.get("actions")
        if not actions:
            continue  # empty scenarios are skipped (protocol §4.3)
        if not isinstance(actions, list):
            raise ConfigurationError(f"{where}.actions: expected a list")
        for n, action in enumerate(actions):
            _validate_action(action, f"{where}.actions[{n}]")
        scenarios.append((scenario_id, scenario))  # callbacks get the caller's own dict
    return scenarios


def _validate_action(action: Any, where: str) -> None:
    if not isinstance(action, Mapping):
        raise ConfigurationError(f"{where}: expected a dict, got {type(action).__name__}")
    expected = action.get("expected_response")
    if expected is None:
        return
    if not isinstance(expected, Mapping):
        raise ConfigurationError(f"{where}.expected_response: expected a dict")
    calls = expected.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls):
        raise ConfigurationError(f"{where}.expected_response.tool_calls: expected a list of dicts")


class EvalRunner:
    """Runs an agent against every scenario in a dataset and records results in a RunBuilder.

    No grading happens here: tool calls are paired and compared structurally
    (``compare_args_structural``), text responses are submitted as ``pending``, and the server
    grades after ``deploy``. The scenario rules are those of the published client (protocol §5).

    Beyond the published client, each keyword-only extra of ``run``/``arun`` is opt-in:
    ``agent_factory``, ``scenario_timeout_s``, ``retries``, ``pairing`` and ``progress``. A
    scenario that fails (the agent raising, timing out, returning something that is not a turn,
    failing to deep-copy, or a callback raising) becomes a test with status ``failed`` and an
    ``error`` object ``{"type", "message", "attempts"}``; it never stops the other scenarios.
    Only ``KeyboardInterrupt`` and ``SystemExit`` propagate.
    """

    def __init__(self, dataset_source: dict[str, Any], *, dataset_id: int | None = None) -> None:
        self._scenarios = _validate_source(dataset_source)
        self._source = dataset_source
        self.dataset_id = dataset_id

    @property
    def dataset_source(self) -> dict[str, Any]:
        """The dataset source this runner was built from."""
        return self._source

    @classmethod
    def from_dataset(cls, client: AshrLabsClient, dataset_id: int, **kwargs: Any) -> EvalRunner:
        """Fetch a dataset (without signed URLs) and build a runner on its ``dataset_source``.

        The runner remembers ``dataset_id``, so ``run_and_deploy`` can leave it out.
        """
        dataset = client.get_dataset(dataset_id=dataset_id, include_signed_urls=False)
        kwargs.setdefault("dataset_id", dataset_id)
        return cls(dataset.get("dataset_source") or {}, **kwargs)

    # --- public entry points ---

    def run(
        self,
        agent: Agent | AsyncAgent | None,
        *,
        on_scenario: Callable[[str, dict[str, Any]], Any] | None = None,
        on_action: Callable[[int, dict[str, Any]], Any] | None = None,
        on_environment: Callable[[str, dict[str, Any]], Any] | None = None,
        max_workers: int = 1,
        agent_factory: Callable[[], Agent | AsyncAgent] | None = None,
        scenario_timeout_s: float | None = None,
        retries: int = 0,
        pairing: str = "optimal",
        progress: bool | None = None,
    ) -> RunBuilder:
        """Run the agent against every scenario; returns a started and completed RunBuilder.

        Args:
            agent: An ``Agent``. May be None only when ``agent_factory`` is given.
            on_scenario: Called as ``(scenario_id, scenario)`` before each scenario.
            on_action: Called as ``(action_index, action)`` before each action.
            on_environment: Called as ``(content, action)`` for environment actions; a returned
                dict's ``text`` and ``tool_calls`` become the agent's current turn.
            max_workers: Scenarios run in parallel on threads. Above 1, each scenario gets a
                ``copy.deepcopy`` of the agent (a copy that fails is recorded on that test)
                unless ``agent_factory`` is given. Callbacks may run on worker threads; each
                scenario runs in a copy of the caller's ``contextvars`` context, so spans
                started by the agent nest under the caller's current span.
            agent_factory: Builds one agent per worker instead of deep-copying ``agent``.
            scenario_timeout_s: A scenario still running after this many seconds is recorded
                as failed with a ``TimeoutError``. A sync agent's thread cannot be interrupted:
                it is abandoned and stops at its next call.
            retries: How many times to rerun a scenario from the start (``on_scenario`` and
                ``reset`` again, a fresh test) after an agent error or timeout. Callback,
                deep-copy and factory errors are not retried.
            pairing: ``"optimal"`` pairs tool calls to maximise matches
                (``pair_tool_calls``); ``"greedy"`` is the published first-name-match.
            progress: A one-line progress display on stderr; None shows it only on a TTY.

        Async agents (``async def respond``/``reset``) are run on a new event loop as ``arun``
        would, with ``max_workers`` as the concurrency. Inside a running event loop that
        raises ``RuntimeError``: use ``await runner.arun(...)``.
        """
        _check_positive_int(max_workers, "max_workers")
        plan = _plan(on_scenario, on_action, on_environment, scenario_timeout_s, retries, pairing)
        source, is_async = _agent_source(agent, agent_factory, max_workers)
        callbacks = (on_scenario, on_action, on_environment)
        if is_async or any(_is_async(cb) for cb in callbacks if cb is not None):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self._arun(source, plan, max_workers, progress))
            raise RuntimeError(
                "EvalRunner.run() got an async agent or callback inside a running event loop; "
                "use `await runner.arun(agent, ...)` instead"
            )
        return self._run_threads(source, plan, max_workers, progress)

    async def arun(
        self,
        agent: Agent | AsyncAgent | None,
        *,
        on_scenario: Callable[[str, dict[str, Any]], Any] | None = None,
        on_action: Callable[[int, dict[str, Any]], Any] | None = None,
        on_environment: Callable[[str, dict[str, Any]], Any] | None = None,
        max_concurrency: int = 8,
        agent_factory: Callable[[], Agent | AsyncAgent] | None = None,
        scenario_timeout_s: float | None = None,
        retries: int = 0,
        pairing: str = "optimal",
        progress: bool | None = None,
    ) -> RunBuilder:
        """Run on the current event loop, ``max_concurrency`` scenarios at a time.

        Async agent methods and callbacks are awaited; a sync agent's methods run in worker
        threads (``asyncio.to_thread``) so they do not block the loop. With
        ``max_concurrency > 1`` each scenario gets a deep copy of ``agent`` unless
        ``agent_factory`` is given (then at most ``max_concurrency`` agents are built and
        reused). Other arguments are as for ``run``.
        """
        _check_positive_int(max_concurrency, "max_concurrency")
        plan = _plan(on_scenario, on_action, on_environment, scenario_timeout_s, retries, pairing)
        source, _ = _agent_source(agent, agent_factory, max_concurrency)
        return await self._arun(source, plan, max_concurrency, progress)

    def run_and_deploy(
        self,
        agent: Agent | AsyncAgent | None,
        client: AshrLabsClient,
        dataset_id: int | None = None,
        *,
        on_scenario: Callable[[str, dict[str, Any]], Any] | None = None,
        on_action: Callable[[int, dict[str, Any]], Any] | None = None,
        on_environment: Callable[[str, dict[str, Any]], Any] | None = None,
        max_workers: int = 1,
        agent_factory: Callable[[], Agent | AsyncAgent] | None = None,
        scenario_timeout_s: float | None = None,
        retries: int = 0,
        pairing: str = "optimal",
        progress: bool | None = None,
        **deploy_kwargs: Any,
    ) -> dict[str, Any]:
        """``run()`` then ``RunBuilder.deploy()``; returns the created run (grading pending).

        ``dataset_id`` defaults to the one ``from_dataset`` fetched; ``deploy_kwargs``
        (``tenant_id``, ``runner_id``, ``agent_id``) go to ``deploy``.
        """
        run = self.run(
            agent,
            on_scenario=on_scenario,
            on_action=on_action,
            on_environment=on_environment,
            max_workers=max_workers,
            agent_factory=agent_factory,
            scenario_timeout_s=scenario_timeout_s,
            retries=retries,
            pairing=pairing,
            progress=progress,
        )
        target = dataset_id if dataset_id is not None else self.dataset_id
        return run.deploy(client, dataset_id=target, **deploy_kwargs)  # type: ignore[arg-type]

    # --- sync execution ---

    def _run_threads(
        self, source: _AgentSource, plan: _Plan, workers: int, show: bool | None
    ) -> RunBuilder:
        run = RunBuilder().start()
        progress = Progress(len(self._scenarios), show)
        tests: list[TestBuilder | None] = [None] * len(self._scenarios)
        try:
            if workers == 1:
                for n, (sid, scenario) in enumerate(self._scenarios):
                    ctx = contextvars.copy_context()
                    test = ctx.run(self._scenario_sync, source, plan, sid, scenario)
                    tests[n] = test
                    progress.advance(test.status == "completed")
            else:
                self._fan_out(source, plan, workers, tests, progress)
        finally:
            progress.close()
        for done in tests:
            assert done is not None
            run._append(done)
        return run.complete()

    def _fan_out(
        self,
        source: _AgentSource,
        plan: _Plan,
        workers: int,
        tests: list[TestBuilder | None],
        progress: Progress,
    ) -> None:
        executor = ThreadPoolExecutor(workers, thread_name_prefix="ashr-eval")
        try:
            futures: dict[Future[TestBuilder], int] = {}
            for n, (sid, scenario) in enumerate(self._scenarios):
                ctx = contextvars.copy_context()
                future = executor.submit(ctx.run, self._scenario_sync, source, plan, sid, scenario)
                futures[future] = n
            for future in as_completed(futures):
                test = future.result()  # only KeyboardInterrupt/SystemExit can come out
                tests[futures[future]] = test
                progress.advance(test.status == "completed")
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True)

    def _scenario_sync(
        self, source: _AgentSource, plan: _Plan, scenario_id: str, scenario: dict[str, Any]
    ) -> TestBuilder:
        attempts = 0
        while True:
            attempts += 1
            try:
                agent = source.acquire()
            except ScenarioFailure as failure:
                return _record_failure(scenario_id, failure, attempts)
            try:
                test = self._attempt_sync(agent, plan, scenario_id, scenario)
            except ScenarioFailure as failure:
                source.release(agent, abandoned=failure.abandoned)
                if failure.retryable and attempts <= plan.retries:
                    continue
                return _record_failure(scenario_id, failure, attempts)
            source.release(agent, abandoned=False)
            return test

    def _attempt_sync(
        self, agent: Any, plan: _Plan, scenario_id: str, scenario: dict[str, Any]
    ) -> TestBuilder:
        test = TestBuilder(scenario_id)
        steps = scenario_steps(agent, scenario_id, scenario, test, plan.callbacks, plan.pairing)
        try:
            if plan.timeout_s is None:
                _drive_sync(steps, None)
            else:
                _drive_sync_with_deadline(steps, plan.timeout_s, test, scenario_id)
        except ScenarioFailure as failure:
            if failure.test is None:
                failure.test = test
            raise
        return test.complete()

    # --- async execution ---

    async def _arun(
        self, source: _AgentSource, plan: _Plan, concurrency: int, show: bool | None
    ) -> RunBuilder:
        run = RunBuilder().start()
        progress = Progress(len(self._scenarios), show)
        # With room for every scenario at once, a semaphore would only cost time per scenario.
        limit: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Semaphore(concurrency)
            if concurrency < len(self._scenarios)
            else contextlib.nullcontext()
        )

        async def one(scenario_id: str, scenario: dict[str, Any]) -> TestBuilder:
            async with limit:
                test = await self._scenario_async(source, plan, scenario_id, scenario)
            progress.advance(test.status == "completed")
            return test

        tasks = [asyncio.ensure_future(one(sid, sc)) for sid, sc in self._scenarios]
        try:
            tests = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            progress.close()
        for test in tests:
            run._append(test)
        return run.complete()

    async def _scenario_async(
        self, source: _AgentSource, plan: _Plan, scenario_id: str, scenario: dict[str, Any]
    ) -> TestBuilder:
        attempts = 0
        while True:
            attempts += 1
            try:
                agent = source.acquire()
            except ScenarioFailure as failure:
                return _record_failure(scenario_id, failure, attempts)
            test = TestBuilder(scenario_id)
            steps = scenario_steps(agent, scenario_id, scenario, test, plan.callbacks, plan.pairing)
            try:
                if plan.timeout_s is None:
                    await _drive_async(steps)
                else:
                    try:
                        await asyncio.wait_for(_drive_async(steps, True), plan.timeout_s)
                    except asyncio.TimeoutError:
                        raise _timeout_failure(test, plan.timeout_s) from None
            except ScenarioFailure as failure:
                if failure.test is None:
                    failure.test = test
                source.release(agent, abandoned=failure.abandoned)
                if failure.retryable and attempts <= plan.retries:
                    continue
                return _record_failure(scenario_id, failure, attempts)
            source.release(agent, abandoned=False)
            return test.complete()


def _drive_sync_with_deadline(
    steps: Generator[Step, Any, None], timeout_s: float, test: TestBuilder, scenario_id: str
) -> None:
    """Drive on a daemon thread and wait at most ``timeout_s``; a late thread is abandoned."""
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            _drive_sync(steps, cancel)
        except _Abandoned:
            pass
        except BaseException as exc:
            outcome.append(exc)

    ctx = contextvars.copy_context()
    thread = threading.Thread(
        target=ctx.run, args=(target,), name=f"ashr-eval-{scenario_id}", daemon=True
    )
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        cancel.set()
        raise _timeout_failure(test, timeout_s)
    if outcome:
        raise outcome[0]


# --- argument checks ---


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name}: expected an int >= 1, got {value!r}")


def _plan(
    on_scenario: Any,
    on_action: Any,
    on_environment: Any,
    timeout_s: Any,
    retries: Any,
    pairing: Any,
) -> _Plan:
    for name, cb in (
        ("on_scenario", on_scenario),
        ("on_action", on_action),
        ("on_environment", on_environment),
    ):
        if cb is not None and not callable(cb):
            raise ConfigurationError(f"{name}: expected a callable or None, got {cb!r}")
    if timeout_s is not None and (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, (int, float))
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise ConfigurationError(
            f"scenario_timeout_s: expected a positive number of seconds or None, got {timeout_s!r}"
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(f"retries: expected an int >= 0, got {retries!r}")
    if pairing not in PAIRING_STRATEGIES:
        raise ConfigurationError(f"pairing: expected 'optimal' or 'greedy', got {pairing!r}")
    return _Plan(
        callbacks=Callbacks(on_scenario, on_action, on_environment),
        pairing=pairing,
        timeout_s=float(timeout_s) if timeout_s is not None else None,
        retries=retries,
    )


def _agent_source(
    agent: Any, factory: Callable[[], Any] | None, workers: int
) -> tuple[_AgentSource, bool]:
    """Check ``agent``/``agent_factory`` and say whether the agent is async.

    With a factory, one agent is built now to learn whether it is async; it serves the first
    scenario. If that call fails, each scenario calls the factory again and records its error.
    """
    if factory is not None:
        if agent is not None:
            raise ConfigurationError("agent: pass either an agent or agent_factory, not both")
        if not callable(factory):
            raise ConfigurationError(f"agent_factory: expected a callable, got {factory!r}")
        source = _AgentSource(None, factory, copies=False, workers=workers)
        try:
            first = source.acquire()
        except ScenarioFailure:
            return source, False
        source.release(first, abandoned=False)
        return source, _agent_is_async(first)
    if agent is None:
        raise ConfigurationError("agent: expected an Agent, or pass agent_factory=")
    if not isinstance(agent, (Agent, AsyncAgent)):
        raise ConfigurationError(
            "agent: expected an object with respond(message) and reset() methods, "
            f"got {type(agent).__name__}"
        )
    return _AgentSource(agent, None, copies=workers > 1, workers=workers), _agent_is_async(agent)


def _agent_is_async(agent: Any) -> bool:
    return _is_async(getattr(agent, "respond", None)) or _is_async(getattr(agent, "reset", None))

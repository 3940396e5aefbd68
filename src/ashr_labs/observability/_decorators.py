"""``@observe``: trace sync and async functions, generators and async generators.

Inside an active Ashr trace the call becomes a child span (or generation) of the active span,
on that trace's client. Outside one it opens a new trace on the *current client*: the most
recently created ``AshrLabsClient`` with tracing enabled (closing it clears it). With no such
client the decorator is a transparent no-op. Generator spans end once, when the generator is
exhausted, raises or is closed (abandoned early: partial output and ``incomplete``, F30); the
context is attached only while the generator body runs, never across a ``yield``.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from .._safety import internal_errors
from ._context import current_runtime, current_trace_state
from ._spans import (
    Generation,
    Span,
    Trace,
    describe_exception,
    start_observation,
    start_trace,
)
from ._values import MAX_ITEMS

if TYPE_CHECKING:
    from ._provider import TracingRuntime

__all__ = ["ObsType", "make_observe", "observe"]

F = TypeVar("F", bound=Callable[..., Any])
ObsType = Literal["span", "generation"]
_Obs = Span | Generation | Trace


def _bind_input(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            pass
        else:
            arguments = dict(bound.arguments)
            for skip in ("self", "cls"):
                arguments.pop(skip, None)
            return arguments
    return {"args": list(args), "kwargs": kwargs}


class _Call:
    """One decorated call's observation and how it ends.

    ``with call:`` runs a function body with the observation's context attached; an exception
    ends the observation as failed and propagates unchanged. ``call.step(items)`` does the same
    for one step of a wrapped generator, and ends the observation when the generator stops.
    """

    def __init__(self, obs: _Obs, capture_output: bool) -> None:
        self.obs = obs
        self.capture_output = capture_output
        self._token: object | None = None

    def attach(self) -> None:
        self._token = otel_context.attach(otel_trace.set_span_in_context(self.obs.otel_span))

    def detach(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            with internal_errors():
                otel_context.detach(token)  # type: ignore[arg-type]

    def __enter__(self) -> _Call:
        self.attach()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc is not None:
            self.fail(exc)
        self.detach()

    def step(self, items: list[Any]) -> _Step:
        return _Step(self, items)

    def succeed(self, output: Any) -> None:
        with internal_errors():
            self.obs.end(output=output if self.capture_output else None)

    def fail(self, exc: BaseException, output: Any = None) -> None:
        with internal_errors():
            self.obs._end_failed(describe_exception(exc), output)

    def abandon(self, items: list[Any]) -> None:
        """The generator was closed before it was exhausted (F30)."""
        with internal_errors():
            output = {"partial": items, "incomplete": True} if self.capture_output else None
            if isinstance(self.obs, Trace):
                self.obs.end(output=output)
            else:
                self.obs.end(output=output, status_message="incomplete: closed before exhaustion")


class _Step:
    """One step of a wrapped generator: context attached only while the body runs (never
    across a ``yield``); stopping ends the observation with the output, raising fails it."""

    def __init__(self, call: _Call, items: list[Any]) -> None:
        self.call = call
        self.items = items

    def __enter__(self) -> None:
        self.call.attach()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.call.detach()
        if isinstance(exc, StopIteration):
            self.call.succeed(self.items if exc.value is None else exc.value)
        elif isinstance(exc, StopAsyncIteration):
            self.call.succeed(self.items)
        elif exc is not None:
            self.call.fail(exc, self.items or None)


def _begin(
    fallback: Callable[[], TracingRuntime | None],
    name: str,
    as_type: ObsType,
    capture_input: bool,
    capture_output: bool,
    signature: inspect.Signature | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Call | None:
    call: _Call | None = None
    with internal_errors():
        state = current_trace_state()
        input_value = _bind_input(signature, args, kwargs) if capture_input else None
        if state is not None:
            cls = Generation if as_type == "generation" else Span
            obs: _Obs = start_observation(state.runtime, state, cls, name, input=input_value)
        else:
            runtime = fallback()
            if runtime is None or not runtime.enabled:
                return None
            obs = start_trace(runtime, name, input=input_value)
        call = _Call(obs, capture_output)
    return call


@overload
def observe(func: F, /) -> F: ...


@overload
def observe(
    name: str | None = None,
    *,
    as_type: ObsType = "span",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[[F], F]: ...


def observe(
    name: Any = None,
    *,
    as_type: ObsType = "span",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Any:
    """Trace a function: a child observation inside a trace, else a new trace.

    Works as ``@observe``, ``@observe()`` or ``@observe("name", as_type="generation")`` on sync
    and async functions, generators and async generators. Arguments are captured as the input
    and the return value (or the yielded items) as the output unless turned off. The user's
    exceptions propagate unchanged; the observation ends with level ``ERROR``.
    """
    return make_observe(
        current_runtime,
        name=name,
        as_type=as_type,
        capture_input=capture_input,
        capture_output=capture_output,
    )


def make_observe(
    fallback: Callable[[], TracingRuntime | None],
    *,
    name: Any = None,
    as_type: ObsType = "span",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Any:
    """``observe`` with the runtime used outside traces given by ``fallback``."""
    if as_type not in ("span", "generation"):
        raise ValueError(f"as_type: expected 'span' or 'generation', got {as_type!r}")
    if callable(name):
        return _decorate(name, None, as_type, capture_input, capture_output, fallback)

    def decorator(func: F) -> F:
        return _decorate(func, name, as_type, capture_input, capture_output, fallback)

    return decorator


def _decorate(
    func: F,
    name: str | None,
    as_type: ObsType,
    capture_input: bool,
    capture_output: bool,
    fallback: Callable[[], TracingRuntime | None],
) -> F:
    span_name = str(
        name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "call")
    )
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
        return _begin(
            fallback, span_name, as_type, capture_input, capture_output, signature, args, kwargs
        )

    if inspect.isasyncgenfunction(func):
        return functools.wraps(func)(_async_gen_wrapper(func, begin))  # type: ignore[return-value]
    if inspect.isgeneratorfunction(func):
        return functools.wraps(func)(_gen_wrapper(func, begin))  # type: ignore[return-value]
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            call = begin(args, kwargs)
            if call is None:
                return await func(*args, **kwargs)
            with call:
                result = await func(*args, **kwargs)
                call.succeed(result)
            return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        call = begin(args, kwargs)
        if call is None:
            return func(*args, **kwargs)
        with call:
            result = func(*args, **kwargs)
            call.succeed(result)
        return result

    return sync_wrapper  # type: ignore[return-value]


def _keep(items: list[Any], item: Any, capture: bool) -> None:
    if capture and len(items) < MAX_ITEMS:
        items.append(item)


def _gen_wrapper(
    func: Callable[..., Generator[Any, Any, Any]], begin: Callable[..., _Call | None]
) -> Callable[..., Generator[Any, Any, Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = begin(args, kwargs)
        if call is None:
            return (yield from func(*args, **kwargs))
        items: list[Any] = []
        with call:
            inner = func(*args, **kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                with call.step(items):
                    item = inner.send(sent) if thrown is None else inner.throw(thrown)
            except StopIteration as stop:
                return stop.value
            thrown = None
            _keep(items, item, call.capture_output)
            try:
                sent = yield item
            except GeneratorExit:
                inner.close()
                call.abandon(items)
                raise
            except BaseException as exc:
                thrown = exc

    return wrapper


def _async_gen_wrapper(
    func: Callable[..., AsyncGenerator[Any, Any]], begin: Callable[..., _Call | None]
) -> Callable[..., AsyncGenerator[Any, Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = begin(args, kwargs)
        if call is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        items: list[Any] = []
        inner = func(*args, **kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                with call.step(items):
                    if thrown is None:
                        item = await inner.asend(sent)
                    else:
                        item = await inner.athrow(thrown)
            except StopAsyncIteration:
                return
            thrown = None
            _keep(items, item, call.capture_output)
            try:
                sent = yield item
            except GeneratorExit:
                await inner.aclose()
                call.abandon(items)
                raise
            except BaseException as exc:
                thrown = exc

    return wrapper

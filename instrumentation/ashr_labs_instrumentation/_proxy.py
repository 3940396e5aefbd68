"""Proxies shared by the instrumentors: wrapt ``ObjectProxy`` subclasses that behave like the
library's object (isinstance, iteration, context managers, ``close``, attributes) and end the
generation span exactly once.

Streams end it on exhaustion, on error, on ``close``/``__exit__``, or on garbage collection, with
the partial output and an incomplete marker when abandoned (FAULTS.md F30). Each chunk is handed
to the caller as it arrives; the accumulator only folds it into the span's output. A helper
stream (``chat.completions.stream()``, ``messages.stream()``) closes the raw stream through
``raw_stream.response.close()``, so ``.response`` is handed out behind a small hook that notices
that close.

A ``with_streaming_response`` response is read by the caller, when and how it likes: what
``parse()``, ``json()``, ``read()`` or ``text()`` give is recorded, a parsed stream is proxied
like any other, and ``close()`` (the context manager's exit) ends the span with what was seen.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from ashr_labs._safety import internal_errors

from ._call import Accumulator, CallSpan, Extracted, Operation, Request

__all__ = [
    "AsyncResponseReader",
    "AsyncStreamProxy",
    "CopyAsWrapped",
    "ResponseReader",
    "ResponseState",
    "StreamProxy",
    "proxy_stream",
    "read_response",
]


class _StreamState:
    """The span side of one stream; every method is guarded and idempotent."""

    __slots__ = ("acc", "call", "first")

    def __init__(self, call: CallSpan, acc: Accumulator) -> None:
        self.call = call
        self.acc = acc
        self.first = True

    def on_chunk(self, chunk: Any) -> bool:
        """Fold one chunk in; False means the caller must not see it (an injected usage chunk)."""
        show = True
        with internal_errors():
            if self.first:
                self.first = False
                self.call.mark_first_chunk()
            show = self.acc.add(chunk)
        return show

    def _result(self) -> Extracted:
        extracted = Extracted()
        with internal_errors():
            extracted = self.acc.result()
        return extracted

    def done(self) -> None:
        extracted = self._result()
        with internal_errors():
            self.call.finish(extracted)

    def failed(self, exc: BaseException) -> None:
        extracted = self._result()
        with internal_errors():
            self.call.fail(exc, partial=extracted)

    def abandon(self, reason: str) -> None:
        if self.call.ended:
            return
        extracted = self._result()
        with internal_errors():
            self.call.finish(extracted, incomplete=reason)

    def __enter__(self) -> _StreamState:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        """Around the read of one chunk: the end of the stream, or its failure, ends the span."""
        if kind is None or exc is None:
            return
        if issubclass(kind, StopIteration | StopAsyncIteration):
            self.done()
        else:
            self.failed(exc)


def _closing(name: str, reason: str = "closed") -> Callable[..., Any]:
    """A method that calls the wrapped object's ``name``, then abandons the span."""

    def method(self: Any, *args: Any) -> Any:
        try:
            return getattr(self.__wrapped__, name)(*args)
        finally:
            self._self_state.abandon(reason)

    method.__name__ = name
    return method


def _aclosing(name: str, reason: str = "closed") -> Callable[..., Any]:
    """The ``async`` twin of :func:`_closing`."""

    async def method(self: Any, *args: Any) -> Any:
        try:
            return await getattr(self.__wrapped__, name)(*args)
        finally:
            self._self_state.abandon(reason)

    method.__name__ = name
    return method


# Generic only in wrapt's stubs and 2.x: subscripted for mypy alone (wrapt 1.16 is our floor).
if TYPE_CHECKING:
    _ObjectProxy = wrapt.ObjectProxy[Any]
else:
    _ObjectProxy = wrapt.ObjectProxy


class CopyAsWrapped(_ObjectProxy):
    """A proxy whose copies and pickles are those of the library's object: the same outcome as
    without instrumentation (F33), where a bare wrapt proxy would raise."""

    def __copy__(self) -> Any:
        return copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.deepcopy(self.__wrapped__, memo)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)


class _StateProxy(CopyAsWrapped):
    """A proxy holding a span state (``_self_state``), which garbage collection abandons."""

    _self_state: Any

    def __init__(self, wrapped: Any, state: Any) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def __del__(self) -> None:
        try:
            self._self_state.abandon("abandoned")
        except Exception:  # noqa: S110 - a finalizer must never raise
            pass


class _ResponseHook(CopyAsWrapped):
    """The stream's HTTP response; closing it (as helper streams do) ends the span."""

    def __init__(self, wrapped: Any, state: _StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    close = _closing("close")
    aclose = _aclosing("aclose")


class _ProxyBase(_StateProxy):
    def __init__(self, wrapped: Any, call: CallSpan, acc: Accumulator) -> None:
        super().__init__(wrapped, _StreamState(call, acc))
        self._self_response: Any = None

    @property
    def response(self) -> Any:
        if self._self_response is None:
            self._self_response = _ResponseHook(self.__wrapped__.response, self._self_state)
        return self._self_response


class StreamProxy(_ProxyBase):
    """Proxy of a synchronous stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        while True:
            with state:
                chunk = self.__wrapped__.__next__()
            if state.on_chunk(chunk):
                return chunk

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    __exit__ = _closing("__exit__")
    close = _closing("close")


class AsyncStreamProxy(_ProxyBase):
    """Proxy of an asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        while True:
            with state:
                chunk = await self.__wrapped__.__anext__()
            if state.on_chunk(chunk):
                return chunk

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    __aexit__ = _aclosing("__aexit__")
    close = _aclosing("close")


def proxy_stream(stream: Any, call: CallSpan, acc: Accumulator) -> Any:
    """Wrap a library stream in the proxy matching its protocol (sync or async)."""
    if hasattr(type(stream), "__anext__"):
        return AsyncStreamProxy(stream, call, acc)
    return StreamProxy(stream, call, acc)


class ResponseState:
    """The span side of a ``with_streaming_response`` response; every method is guarded."""

    def __init__(self, call: CallSpan, op: Operation, request: Request) -> None:
        self.call = call
        self.op = op
        self.request = request
        self._stream: tuple[Any, Any] | None = None
        """The parsed stream and our proxy of it, handed out again on a second ``parse()``."""

    def parsed(self, value: Any) -> Any:
        """Record what ``parse()`` gave; a stream comes back proxied."""
        if not self.request.stream:
            with internal_errors():
                self.call.finish(self.op.extract(value))
            return value
        if self._stream is not None and self._stream[0] is value:
            return self._stream[1]
        op = self.op
        if op.stream_proxy is None or op.accumulator is None or self.call.ended:
            return value
        with internal_errors():
            proxied = op.stream_proxy(value, self.call, op.accumulator(self.request))
            self._stream = (value, proxied)
            return proxied
        return value

    def body(self, value: Any) -> Any:
        """Record what ``json()``, ``read()`` or ``text()`` gave: a JSON body, decoded."""
        if not self.request.stream:
            with internal_errors():
                decoded = value
                if isinstance(value, bytes | str):
                    try:
                        decoded = json.loads(value)
                    except ValueError:
                        decoded = None
                self.call.finish(self.op.extract(decoded))
        return value

    def abandon(self, reason: str) -> None:
        """Closed or collected: a parsed stream says what it saw; else end with nothing read
        (a body read some other way, ``iter_lines()`` say, is the caller's alone)."""
        if self._stream is not None:
            self._stream[1]._self_state.abandon(reason)
        with internal_errors():
            self.call.finish(Extracted(), incomplete=None if reason == "closed" else reason)


def _reading(name: str, record: str) -> Callable[..., Any]:
    """A method that calls the wrapped response's ``name`` and passes the value to ``record``."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = getattr(self.__wrapped__, name)(*args, **kwargs)
        return getattr(self._self_state, record)(value)

    method.__name__ = name
    return method


def _areading(name: str, record: str) -> Callable[..., Any]:
    """The ``async`` twin of :func:`_reading`."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = await getattr(self.__wrapped__, name)(*args, **kwargs)
        return getattr(self._self_state, record)(value)

    method.__name__ = name
    return method


class ResponseReader(_StateProxy):
    """A sync ``with_streaming_response`` response (``APIResponse``)."""

    close = _closing("close")


class AsyncResponseReader(_StateProxy):
    """An async ``with_streaming_response`` response (``AsyncAPIResponse``)."""

    close = _aclosing("close")


for _name, _record in (("parse", "parsed"), ("json", "body"), ("read", "body"), ("text", "body")):
    setattr(ResponseReader, _name, _reading(_name, _record))
    setattr(AsyncResponseReader, _name, _areading(_name, _record))


def read_response(response: Any, state: ResponseState) -> Any:
    """Wrap a ``with_streaming_response`` response in the reader matching its protocol."""
    if inspect.iscoroutinefunction(getattr(type(response), "parse", None)):
        return AsyncResponseReader(response, state)
    return ResponseReader(response, state)

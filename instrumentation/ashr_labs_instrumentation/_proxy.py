"""Stream proxies shared by the instrumentors: wrapt ``ObjectProxy`` subclasses that behave like
the library's stream (isinstance, iteration, context managers, ``close``, attributes) and end the
generation span exactly once: on exhaustion, on error, on ``close``/``__exit__``, or on garbage
collection, with the partial output and an incomplete marker when abandoned (FAULTS.md F30).

Each chunk is handed to the caller as it arrives; the accumulator only folds it into the span's
output. A helper stream (``chat.completions.stream()``, ``messages.stream()``) closes the raw
stream through ``raw_stream.response.close()``, so ``.response`` is handed out behind a small hook
that notices that close.
"""

from __future__ import annotations

import copy
from typing import Any

import wrapt

from ashr_labs._safety import internal_errors

from ._base import Accumulator, CallSpan, Extracted

__all__ = ["AsyncStreamProxy", "CopyAsWrapped", "StreamProxy", "proxy_stream"]


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


class CopyAsWrapped(wrapt.ObjectProxy[Any]):
    """A proxy whose copies and pickles are those of the library's object: the same outcome as
    without instrumentation (F33), where a bare wrapt proxy would raise."""

    def __copy__(self) -> Any:
        return copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.deepcopy(self.__wrapped__, memo)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)


class _ResponseHook(CopyAsWrapped):
    """The stream's HTTP response; closing it (as helper streams do) ends the span."""

    def __init__(self, wrapped: Any, state: _StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.abandon("closed")

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_state.abandon("closed")


class _ProxyBase(CopyAsWrapped):
    def __init__(self, wrapped: Any, call: CallSpan, acc: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_state = _StreamState(call, acc)
        self._self_response: Any = None

    @property
    def response(self) -> Any:
        if self._self_response is None:
            self._self_response = _ResponseHook(self.__wrapped__.response, self._self_state)
        return self._self_response

    def __del__(self) -> None:
        try:
            self._self_state.abandon("abandoned")
        except Exception:  # noqa: S110 - a finalizer must never raise
            pass


class StreamProxy(_ProxyBase):
    """Proxy of a synchronous stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        while True:
            try:
                chunk = self.__wrapped__.__next__()
            except StopIteration:
                state.done()
                raise
            except BaseException as exc:
                state.failed(exc)
                raise
            if state.on_chunk(chunk):
                return chunk

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_state.abandon("closed")

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.abandon("closed")


class AsyncStreamProxy(_ProxyBase):
    """Proxy of an asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        while True:
            try:
                chunk = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                state.done()
                raise
            except BaseException as exc:
                state.failed(exc)
                raise
            if state.on_chunk(chunk):
                return chunk

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_state.abandon("closed")

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_state.abandon("closed")


def proxy_stream(stream: Any, call: CallSpan, acc: Accumulator) -> Any:
    """Wrap a library stream in the proxy matching its protocol (sync or async)."""
    if hasattr(type(stream), "__anext__"):
        return AsyncStreamProxy(stream, call, acc)
    return StreamProxy(stream, call, acc)

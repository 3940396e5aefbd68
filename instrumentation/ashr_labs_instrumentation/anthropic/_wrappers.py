"""Wrapper factories for the Anthropic targets.

``messages.stream()`` returns a manager that posts only when entered. Its wrapper hands back the
manager behind a proxy: entering runs the request inside a generation span. The helper stream
itself is the library's own object, so ``text_stream``, ``get_final_message()`` and every other
helper feature behave exactly as without instrumentation; only the raw event stream it reads is
proxied (time to first chunk, the span ending with the stream). Where a version keeps that raw
stream elsewhere, leaving the manager ends the span with the message the helper accumulated
(its public ``current_message_snapshot``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from opentelemetry.trace import Tracer

from ashr_labs._safety import internal_errors, is_instrumentation_suppressed

from .._base import make_async_wrapper, make_sync_wrapper, run_async, run_sync
from .._call import Accumulator, CallSpan, Extracted, GenerationConfig, Operation
from .._fields import read
from .._patch import WrapTarget
from .._proxy import CopyAsWrapped, proxy_stream
from ._extract import message_response, messages_request
from ._stream import MessagesAccumulator

__all__ = ["MESSAGES", "MessageStreamManagerProxy", "make_wrapper"]

MESSAGES = Operation("chat", messages_request, message_response, MessagesAccumulator, proxy_stream)


def _snapshot(stream: Any) -> Any:
    """The helper's accumulated message, or None before its first event."""
    try:
        return stream.current_message_snapshot
    except Exception:
        return None


class MessageStreamManagerProxy(CopyAsWrapped):
    """``messages.stream()``'s manager (sync or async); see the module docstring."""

    def __init__(
        self, wrapped: Any, tracer: Tracer, config: GenerationConfig, kwargs: dict[str, Any]
    ) -> None:
        super().__init__(wrapped)
        self._self_tracer = tracer
        self._self_config = config
        self._self_kwargs = {**kwargs, "stream": True}
        self._self_call: CallSpan | None = None
        self._self_stream: Any = None

    def _operation(self) -> Operation:
        def keep_open(stream: Any, call: CallSpan, acc: Accumulator) -> Any:
            self._self_call, self._self_stream = call, stream
            # The helper reads its raw event stream only once iterated, so a proxy put in its
            # place sees every event as it arrives: time to first chunk, and the span ends
            # with the stream exactly as for ``create(stream=True)``.
            raw = getattr(stream, "_raw_stream", None)
            if raw is not None:
                stream._raw_stream = proxy_stream(raw, call, acc)
            return stream

        return dataclasses.replace(MESSAGES, stream_proxy=keep_open)

    def __enter__(self) -> Any:
        return run_sync(
            self._self_tracer,
            self._operation(),
            self._self_config,
            lambda _kw: self.__wrapped__.__enter__(),
            self._self_kwargs,
        )

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._finish(exc_info[1])

    async def __aenter__(self) -> Any:
        return await run_async(
            self._self_tracer,
            self._operation(),
            self._self_config,
            lambda _kw: self.__wrapped__.__aenter__(),
            self._self_kwargs,
        )

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._finish(exc_info[1])

    def _finish(self, exc: BaseException | None, reason: str = "closed") -> None:
        call = self._self_call
        if call is None or call.ended:
            return
        with internal_errors():
            message = _snapshot(self._self_stream)
            extracted = message_response(message) if message is not None else Extracted()
            if read(message, "stop_reason") is not None:
                call.finish(extracted)
            elif exc is not None:
                call.fail(exc, partial=extracted)
            else:
                call.finish(extracted, incomplete=reason)

    def __del__(self) -> None:
        try:
            self._finish(None, "abandoned")
        except Exception:  # noqa: S110 - a finalizer must never raise
            pass


def make_messages_stream(tracer: Tracer, config: GenerationConfig) -> Any:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if is_instrumentation_suppressed():
            return manager
        with internal_errors():
            return MessageStreamManagerProxy(manager, tracer, config, kwargs)
        return manager

    return traced


def make_wrapper(target: WrapTarget, tracer: Tracer, config: GenerationConfig) -> Any:
    if target.operation == "messages_stream":
        return make_messages_stream(tracer, config)
    factory = make_async_wrapper if target.is_async else make_sync_wrapper
    return factory(tracer, MESSAGES, config)

"""Wrapper factories for the Anthropic targets.

``messages.stream()`` returns a manager that posts only when entered; its wrapper swaps the
manager's request callable for one that runs inside a generation span and hands the helper our
stream proxy, so ``text_stream``, ``get_final_message()`` and early exits all end the span.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ashr_labs._log import logger
from ashr_labs._safety import internal_errors, is_instrumentation_suppressed

from .._base import (
    GenerationConfig,
    Operation,
    WrapTarget,
    make_async_wrapper,
    make_sync_wrapper,
    run_async,
    run_sync,
)
from .._proxy import proxy_stream
from ._extract import message_response, messages_request
from ._stream import MessagesAccumulator

__all__ = ["MESSAGES", "make_wrapper"]

MESSAGES = Operation("chat", messages_request, message_response, MessagesAccumulator, proxy_stream)


def _hook_manager(
    manager: Any, tracer: Tracer, config: GenerationConfig, kwargs: dict[str, Any], is_async: bool
) -> None:
    attr = f"_{type(manager).__name__}__api_request"
    original = manager.__dict__.get(attr)
    if original is None:
        logger.debug(
            "ashr_labs: %s has no request hook; stream() not traced", type(manager).__name__
        )
        return
    stream_kwargs = {**kwargs, "stream": True}
    if is_async:
        # The async manager awaits a coroutine made up front; ours awaits it in turn.
        manager.__dict__[attr] = run_async(
            tracer, MESSAGES, config, lambda _kw: original, stream_kwargs
        )
    else:
        manager.__dict__[attr] = lambda: run_sync(
            tracer, MESSAGES, config, lambda _kw: original(), stream_kwargs
        )


def make_messages_stream(tracer: Tracer, config: GenerationConfig, is_async: bool) -> Any:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_suppressed():
            with internal_errors():
                _hook_manager(manager, tracer, config, kwargs, is_async)
        return manager

    return traced


def make_wrapper(target: WrapTarget, tracer: Tracer, config: GenerationConfig) -> Any:
    if target.operation == "messages_stream":
        return make_messages_stream(tracer, config, is_async=False)
    if target.operation == "async_messages_stream":
        return make_messages_stream(tracer, config, is_async=True)
    factory = make_async_wrapper if target.is_async else make_sync_wrapper
    return factory(tracer, MESSAGES, config)

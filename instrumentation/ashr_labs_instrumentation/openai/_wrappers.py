"""Wrapper factories for the OpenAI targets: each operation's pure hooks bound to a tracer."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from .._base import make_async_wrapper, make_sync_wrapper
from .._call import GenerationConfig, Operation
from .._fields import given
from .._patch import WrapTarget
from .._proxy import proxy_stream
from ._extract import (
    chat_request,
    chat_response,
    embeddings_request,
    embeddings_response,
    responses_request,
    responses_response,
)
from ._stream import ChatAccumulator, ResponsesAccumulator

__all__ = ["OPERATIONS", "make_wrapper"]


def _inject_stream_usage(kwargs: dict[str, Any], config: GenerationConfig) -> dict[str, Any]:
    """Ask for the usage chunk when the caller did not say (opt-in; the chunk stays hidden)."""
    if not config.inject_stream_usage or given(kwargs.get("stream_options")):
        return kwargs
    return {**kwargs, "stream_options": {"include_usage": True}}


OPERATIONS: dict[str, Operation] = {
    "chat": Operation(
        "chat", chat_request, chat_response, ChatAccumulator, proxy_stream, _inject_stream_usage
    ),
    "responses": Operation(
        "chat", responses_request, responses_response, ResponsesAccumulator, proxy_stream
    ),
    "embeddings": Operation("embeddings", embeddings_request, embeddings_response),
}


def make_wrapper(target: WrapTarget, tracer: Tracer, config: GenerationConfig) -> Any:
    operation = OPERATIONS[target.operation]
    factory = make_async_wrapper if target.is_async else make_sync_wrapper
    return factory(tracer, operation, config)

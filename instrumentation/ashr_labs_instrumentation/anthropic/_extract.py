"""Pure extraction for Anthropic ``messages`` calls: kwargs and ``Message`` objects to span
attributes and values. Nothing here imports ``anthropic``; every field is read forgivingly (F27).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from ashr_labs import _attributes as attrs

from .._call import Extracted, Request
from .._fields import (
    given,
    model_request,
    read,
    response_identity,
    text,
    token_count,
    usage_attributes,
    with_system,
)

__all__ = ["message_output", "message_response", "messages_request", "response_attributes"]

_PARAMS = {
    "temperature": attrs.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attrs.GEN_AI_REQUEST_TOP_P,
    "max_tokens": attrs.GEN_AI_REQUEST_MAX_TOKENS,
}


def messages_request(kwargs: Mapping[str, Any]) -> Request:
    messages = kwargs.get("messages")
    value: Any = list(messages) if isinstance(messages, list | tuple) else messages
    return model_request(
        kwargs, _PARAMS, with_system(value if given(value) else None, kwargs.get("system"))
    )


def message_output(texts: list[str], calls: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The assistant turn in the same shape as OpenAI's: text plus tool calls."""
    if not texts and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def tool_call(block: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, default=str)
    return {"id": read(block, "id"), "name": read(block, "name"), "arguments": arguments}


def response_attributes(
    message: Any, stop_reason: str | None, usage: Any
) -> tuple[dict[str, AttributeValue], dict[str, int] | None]:
    attributes = response_identity(message)
    if stop_reason:
        attributes[attrs.GEN_AI_RESPONSE_FINISH_REASONS] = [stop_reason]
    if usage is None:
        return attributes, None
    usage_attrs, usage_dict = usage_attributes(
        token_count(read(usage, "input_tokens")),
        token_count(read(usage, "output_tokens")),
        cache_read=token_count(read(usage, "cache_read_input_tokens")),
        cache_creation=token_count(read(usage, "cache_creation_input_tokens")),
    )
    attributes.update(usage_attrs)
    return attributes, usage_dict or None


def message_response(message: Any) -> Extracted:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in read(message, "content") or ():
        kind = read(block, "type")
        if kind == "text":
            texts.append(text(read(block, "text")) or "")
        elif kind == "tool_use":
            calls.append(tool_call(block, read(block, "input")))
    attributes, usage = response_attributes(
        message, text(read(message, "stop_reason")), read(message, "usage")
    )
    return Extracted(output=message_output(texts, calls), attributes=attributes, usage=usage)

"""Pure extraction for OpenAI calls: request kwargs and responses to span attributes and values.

Nothing here imports ``openai``: responses are read by attribute name, forgivingly (F27).
"""

from __future__ import annotations

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

__all__ = [
    "chat_finish",
    "chat_output",
    "chat_request",
    "chat_response",
    "embeddings_request",
    "embeddings_response",
    "responses_output",
    "responses_request",
    "responses_response",
]

_CHAT_PARAMS = {
    "temperature": attrs.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attrs.GEN_AI_REQUEST_TOP_P,
    "max_tokens": attrs.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": attrs.GEN_AI_REQUEST_MAX_TOKENS,
}
_RESPONSES_PARAMS = {
    "temperature": attrs.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attrs.GEN_AI_REQUEST_TOP_P,
    "max_output_tokens": attrs.GEN_AI_REQUEST_MAX_TOKENS,
}


def _listed(value: Any) -> Any:
    """Lists and tuples as lists; anything else (a generator, say) as is, never consumed."""
    return list(value) if isinstance(value, list | tuple) else value


def chat_request(kwargs: Mapping[str, Any]) -> Request:
    messages = kwargs.get("messages")
    return model_request(kwargs, _CHAT_PARAMS, _listed(messages) if given(messages) else None)


def chat_output(content: str | None, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    """One assistant message: text plus tool calls (``id``, ``name``, ``arguments``)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _chat_usage(usage: Any) -> tuple[dict[str, AttributeValue], dict[str, int]]:
    return usage_attributes(
        token_count(read(usage, "prompt_tokens")),
        token_count(read(usage, "completion_tokens")),
        cache_read=token_count(read(usage, "prompt_tokens_details", "cached_tokens")),
        reasoning=token_count(read(usage, "completion_tokens_details", "reasoning_tokens")),
    )


def chat_finish(
    attributes: dict[str, AttributeValue], reasons: list[str], usage: Any
) -> dict[str, int] | None:
    """Add finish reasons and usage to ``attributes``; return the usage dict."""
    if reasons:
        attributes[attrs.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    if usage is None:
        return None
    usage_attrs, usage_dict = _chat_usage(usage)
    attributes.update(usage_attrs)
    return usage_dict or None


def chat_response(response: Any) -> Extracted:
    attributes = response_identity(response)
    outputs: list[dict[str, Any]] = []
    reasons: list[str] = []
    for choice in read(response, "choices") or ():
        message = read(choice, "message")
        calls = [
            {
                "id": read(call, "id"),
                "name": read(call, "function", "name"),
                "arguments": read(call, "function", "arguments"),
            }
            for call in read(message, "tool_calls") or ()
        ]
        outputs.append(chat_output(text(read(message, "content")), calls))
        reason = text(read(choice, "finish_reason"))
        if reason:
            reasons.append(reason)
    usage = chat_finish(attributes, reasons, read(response, "usage"))
    output: Any = outputs[0] if len(outputs) == 1 else (outputs or None)
    return Extracted(output=output, attributes=attributes, usage=usage)


def responses_request(kwargs: Mapping[str, Any]) -> Request:
    raw_input = kwargs.get("input")
    value: Any = None
    if given(raw_input):
        value = (
            [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
        )
        value = _listed(value)
    instructions = text(kwargs.get("instructions")) or None
    return model_request(kwargs, _RESPONSES_PARAMS, with_system(value, instructions))


def responses_output(response: Any) -> dict[str, Any] | None:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in read(response, "output") or ():
        kind = read(item, "type")
        if kind == "message":
            for part in read(item, "content") or ():
                part_text = text(read(part, "text"))
                if part_text is not None:
                    texts.append(part_text)
        elif kind == "function_call":
            calls.append(
                {
                    "id": read(item, "call_id"),
                    "name": read(item, "name"),
                    "arguments": read(item, "arguments"),
                }
            )
    if not texts and not calls:
        return None
    return chat_output("".join(texts) if texts else None, calls)


def responses_response(response: Any) -> Extracted:
    attributes = response_identity(response)
    status = text(read(response, "status"))
    reason = text(read(response, "incomplete_details", "reason")) or status
    if reason:
        attributes[attrs.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    usage = read(response, "usage")
    usage_dict: dict[str, int] | None = None
    if usage is not None:
        usage_attrs, usage_dict = usage_attributes(
            token_count(read(usage, "input_tokens")),
            token_count(read(usage, "output_tokens")),
            cache_read=token_count(read(usage, "input_tokens_details", "cached_tokens")),
            reasoning=token_count(read(usage, "output_tokens_details", "reasoning_tokens")),
        )
        attributes.update(usage_attrs)
    return Extracted(
        output=responses_output(response), attributes=attributes, usage=usage_dict or None
    )


def embeddings_request(kwargs: Mapping[str, Any]) -> Request:
    raw_input = kwargs.get("input")
    return Request(
        model=text(kwargs.get("model")),
        attributes={},
        input=_listed(raw_input) if given(raw_input) else None,
    )


def embeddings_response(response: Any) -> Extracted:
    attributes = response_identity(response)
    data = read(response, "data") or []
    first = read(data[0], "embedding") if isinstance(data, list) and data else None
    output: dict[str, Any] = {"embeddings": len(data) if isinstance(data, list) else None}
    if isinstance(first, list):
        output["dimensions"] = len(first)
    usage = read(response, "usage")
    usage_dict: dict[str, int] | None = None
    if usage is not None:
        usage_attrs, usage_dict = usage_attributes(token_count(read(usage, "prompt_tokens")), None)
        attributes.update(usage_attrs)
    return Extracted(output=output, attributes=attributes, usage=usage_dict or None)

"""Pure, forgiving readers of request kwargs and response objects, shared by the extractors.

Responses come from the model server, so any field may be missing, null or of a new shape
(FAULTS.md F27): every reader returns ``None`` instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from ashr_labs import _attributes as attrs

from ._call import Request

__all__ = [
    "given",
    "model_request",
    "number",
    "read",
    "request_attributes",
    "response_identity",
    "text",
    "token_count",
    "usage_attributes",
    "with_system",
]

_SENTINELS = frozenset({"Omit", "NotGiven"})


def given(value: Any) -> bool:
    """False for ``None`` and the SDKs' ``omit`` / ``NOT_GIVEN`` sentinels."""
    return value is not None and type(value).__name__ not in _SENTINELS


def read(obj: Any, *path: str) -> Any:
    """``obj.a.b`` (or ``obj["a"]["b"]``), or ``None`` if any step is missing."""
    for name in path:
        if obj is None:
            return None
        if isinstance(obj, Mapping):
            obj = obj.get(name)
        else:
            obj = getattr(obj, name, None)
    return obj if given(obj) else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def token_count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_attributes(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None = None,
    cache_creation: int | None = None,
    reasoning: int | None = None,
) -> tuple[dict[str, AttributeValue], dict[str, int]]:
    """GenAI usage attributes and the ``ashr.observation.usage`` dict, zero details left out."""
    pairs = (
        (attrs.GEN_AI_USAGE_INPUT_TOKENS, "input_tokens", input_tokens),
        (attrs.GEN_AI_USAGE_OUTPUT_TOKENS, "output_tokens", output_tokens),
        (attrs.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "cache_read_input_tokens", cache_read),
        (
            attrs.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            "cache_creation_input_tokens",
            cache_creation,
        ),
        (attrs.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "reasoning_tokens", reasoning),
    )
    attributes: dict[str, AttributeValue] = {}
    usage: dict[str, int] = {}
    for key, name, value in pairs:
        if value is None or (value == 0 and name not in ("input_tokens", "output_tokens")):
            continue
        attributes[key] = value
        usage[name] = value
    return attributes, usage


def request_attributes(
    kwargs: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, AttributeValue]:
    """Numeric request parameters (``temperature`` ...) under their GenAI attribute keys."""
    out: dict[str, AttributeValue] = {}
    for kwarg, key in names.items():
        value = number(kwargs.get(kwarg))
        if value is not None:
            out[key] = value
    if kwargs.get("stream") is True:
        out[attrs.GEN_AI_REQUEST_STREAM] = True
    return out


def with_system(messages: Any, system: Any) -> Any:
    """``messages`` led by a system message holding ``system``, when one is given."""
    if not given(system):
        return messages
    head = {"role": "system", "content": system}
    return [head, *messages] if isinstance(messages, list) else [head]


def model_request(kwargs: Mapping[str, Any], params: Mapping[str, str], value: Any) -> Request:
    """The :class:`Request` of one model call: model, numeric parameters, input, stream flag."""
    return Request(
        model=text(kwargs.get("model")),
        attributes=request_attributes(kwargs, params),
        input=value,
        stream=kwargs.get("stream") is True,
    )


def response_identity(response: Any) -> dict[str, AttributeValue]:
    """The response's id and model as GenAI attributes (either may be missing)."""
    out: dict[str, AttributeValue] = {}
    response_id = text(read(response, "id"))
    model = text(read(response, "model"))
    if response_id:
        out[attrs.GEN_AI_RESPONSE_ID] = response_id
    if model:
        out[attrs.GEN_AI_RESPONSE_MODEL] = model
    return out

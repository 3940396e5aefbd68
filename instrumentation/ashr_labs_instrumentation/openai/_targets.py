"""The OpenAI methods we patch, one row each (OpenLLMetry's target-table idea).

``create`` is the single entry point of each API: ``stream=True``, the ``.stream()`` helpers,
``with_raw_response`` and ``with_streaming_response`` all go through it, so patching it (and
``parse``, which posts on its own) gives one generation per API call.
"""

from __future__ import annotations

from .._patch import WrapTarget

__all__ = ["TARGETS"]

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"

_CHAT_BEFORE_1_55 = ("openai.resources.chat.completions",)
_BETA_CHAT = "openai.resources.beta.chat.completions"

TARGETS: tuple[WrapTarget, ...] = (
    WrapTarget(_CHAT, "Completions.create", "chat", fallbacks=_CHAT_BEFORE_1_55),
    WrapTarget(
        _CHAT, "AsyncCompletions.create", "chat", is_async=True, fallbacks=_CHAT_BEFORE_1_55
    ),
    WrapTarget(_CHAT, "Completions.parse", "chat", optional=True),
    WrapTarget(_CHAT, "AsyncCompletions.parse", "chat", is_async=True, optional=True),
    WrapTarget(_RESPONSES, "Responses.create", "responses", optional=True),
    WrapTarget(_RESPONSES, "AsyncResponses.create", "responses", is_async=True, optional=True),
    WrapTarget(_RESPONSES, "Responses.parse", "responses", optional=True),
    WrapTarget(_RESPONSES, "AsyncResponses.parse", "responses", is_async=True, optional=True),
    WrapTarget(_EMBEDDINGS, "Embeddings.create", "embeddings"),
    WrapTarget(_EMBEDDINGS, "AsyncEmbeddings.create", "embeddings", is_async=True),
    # Until chat.completions.parse() moved out of beta, beta's parse posted on its own.
    WrapTarget(_BETA_CHAT, "Completions.parse", "chat", optional=True),
    WrapTarget(_BETA_CHAT, "AsyncCompletions.parse", "chat", is_async=True, optional=True),
)

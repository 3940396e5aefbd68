"""The Anthropic methods we patch, one row each.

``create`` serves ``stream=True``, ``with_raw_response`` and ``with_streaming_response``;
``stream()`` and ``parse()`` post on their own, so they are rows of their own. The beta
``messages`` resource (tool runners, newer features) has the same shape.
"""

from __future__ import annotations

from .._patch import WrapTarget

__all__ = ["TARGETS"]

_MESSAGES = "anthropic.resources.messages.messages"
_BETA = "anthropic.resources.beta.messages.messages"

_OLD = ("anthropic.resources.messages",)  # a module, not a package, before 0.37

TARGETS: tuple[WrapTarget, ...] = (
    WrapTarget(_MESSAGES, "Messages.create", "messages", fallbacks=_OLD),
    WrapTarget(_MESSAGES, "AsyncMessages.create", "messages", is_async=True, fallbacks=_OLD),
    WrapTarget(_MESSAGES, "Messages.stream", "messages_stream", fallbacks=_OLD),
    WrapTarget(_MESSAGES, "AsyncMessages.stream", "messages_stream", fallbacks=_OLD),
    WrapTarget(_MESSAGES, "Messages.parse", "messages", optional=True),
    WrapTarget(_MESSAGES, "AsyncMessages.parse", "messages", is_async=True, optional=True),
    WrapTarget(_BETA, "Messages.create", "messages", optional=True),
    WrapTarget(_BETA, "AsyncMessages.create", "messages", is_async=True, optional=True),
    WrapTarget(_BETA, "Messages.stream", "messages_stream", optional=True),
    WrapTarget(_BETA, "AsyncMessages.stream", "messages_stream", optional=True),
    WrapTarget(_BETA, "Messages.parse", "messages", optional=True),
    WrapTarget(_BETA, "AsyncMessages.parse", "messages", is_async=True, optional=True),
)

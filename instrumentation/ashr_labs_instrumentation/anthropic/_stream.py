"""Stream accumulator for Anthropic raw message events (``message_start`` ... ``message_stop``),
folded into the same output ``message_response`` gives. It reads chunks, never holds them."""

from __future__ import annotations

from typing import Any

from .._call import Extracted, Request
from .._fields import read, text
from ._extract import message_output, response_attributes, tool_call

__all__ = ["MessagesAccumulator"]


class _Usage:
    """Usage merged from ``message_start`` and ``message_delta`` (the latter's counts win)."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def merge(self, usage: Any) -> None:
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = read(usage, name)
            if value is not None:
                self.fields[name] = value


class MessagesAccumulator:
    def __init__(self, request: Request) -> None:
        self._message: Any = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._stop: str | None = None
        self._usage = _Usage()

    def add(self, event: Any) -> bool:
        kind = read(event, "type")
        if kind == "message_start":
            self._message = read(event, "message")
            self._usage.merge(read(self._message, "usage"))
        elif kind == "content_block_start":
            block = read(event, "content_block")
            self._blocks[read(event, "index") or 0] = {"block": block, "parts": []}
        elif kind == "content_block_delta":
            slot = self._blocks.get(read(event, "index") or 0)
            delta = read(event, "delta")
            piece = text(read(delta, "text")) or text(read(delta, "partial_json"))
            if slot is not None and piece:
                slot["parts"].append(piece)
        elif kind == "message_delta":
            self._stop = text(read(event, "delta", "stop_reason")) or self._stop
            self._usage.merge(read(event, "usage"))
        return True

    def result(self) -> Extracted:
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for _, slot in sorted(self._blocks.items()):
            block, joined = slot["block"], "".join(slot["parts"])
            if read(block, "type") == "text":
                texts.append(joined)
            elif read(block, "type") == "tool_use":
                calls.append(tool_call(block, joined or "{}"))
        attributes, usage = response_attributes(
            self._message, self._stop, self._usage.fields or None
        )
        return Extracted(output=message_output(texts, calls), attributes=attributes, usage=usage)

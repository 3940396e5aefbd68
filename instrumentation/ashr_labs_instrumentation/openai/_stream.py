"""Stream accumulators for OpenAI: chat completion chunks and Responses API events folded into
the same output the non-streaming extractors produce. The proxies themselves are shared
(``.._proxy``); these only read chunks, never hold them back.
"""

from __future__ import annotations

from typing import Any

from .._call import Extracted, Request
from .._fields import read, response_identity, text
from ._extract import chat_finish, chat_output, responses_response

__all__ = ["ChatAccumulator", "ResponsesAccumulator"]


class _Choice:
    __slots__ = ("calls", "finish", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None


class ChatAccumulator:
    """Chat completion chunks: text deltas, tool-call deltas by index, finish reason, usage."""

    def __init__(self, request: Request) -> None:
        self._hide_usage_chunk = request.injected_usage
        self._choices: dict[int, _Choice] = {}
        self._last: Any = None
        self._usage: Any = None

    def add(self, chunk: Any) -> bool:
        self._last = chunk
        usage = read(chunk, "usage")
        if usage is not None:
            self._usage = usage
        choices = read(chunk, "choices") or ()
        for choice in choices:
            index = read(choice, "index") or 0
            state = self._choices.setdefault(index, _Choice())
            delta = read(choice, "delta")
            content = text(read(delta, "content"))
            if content:
                state.parts.append(content)
            for call in read(delta, "tool_calls") or ():
                self._add_call(state, call)
            state.finish = text(read(choice, "finish_reason")) or state.finish
        return not (self._hide_usage_chunk and not choices and usage is not None)

    @staticmethod
    def _add_call(state: _Choice, call: Any) -> None:
        slot = state.calls.setdefault(
            read(call, "index") or 0, {"id": None, "name": None, "arguments": ""}
        )
        slot["id"] = read(call, "id") or slot["id"]
        slot["name"] = read(call, "function", "name") or slot["name"]
        slot["arguments"] += text(read(call, "function", "arguments")) or ""

    def result(self) -> Extracted:
        attributes = response_identity(self._last)
        outputs = [
            chat_output("".join(c.parts) if c.parts else None, list(c.calls.values()))
            for _, c in sorted(self._choices.items())
        ]
        reasons = [c.finish for _, c in sorted(self._choices.items()) if c.finish]
        usage = chat_finish(attributes, reasons, self._usage)
        output: Any = outputs[0] if len(outputs) == 1 else (outputs or None)
        return Extracted(output=output, attributes=attributes, usage=usage)


class ResponsesAccumulator:
    """Responses API events: text deltas until the terminal event carries the whole response."""

    _TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self, request: Request) -> None:
        self._parts: list[str] = []
        self._final: Any = None
        self._latest: Any = None

    def add(self, event: Any) -> bool:
        kind = read(event, "type")
        if kind == "response.output_text.delta":
            self._parts.append(text(read(event, "delta")) or "")
        response = read(event, "response")
        if response is not None:
            self._latest = response
            if kind in self._TERMINAL:
                self._final = response
        return True

    def result(self) -> Extracted:
        if self._final is not None:
            return responses_response(self._final)
        extracted = Extracted(attributes=response_identity(self._latest))
        if self._parts:
            extracted.output = chat_output("".join(self._parts), [])
        return extracted

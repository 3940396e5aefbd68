"""A loopback fake model server speaking enough of the OpenAI and Anthropic HTTP APIs for the real
``openai`` and ``anthropic`` client libraries (JSON replies and SSE streams).

Tests script replies with :class:`Reply` (FIFO; a default reply when the script is empty): tool
calls, errors (500/429), odd JSON shapes, slow streams, and holds: ``hold`` keeps the whole reply
until an ``Event`` is set, ``hold_after`` keeps every chunk after the first ``n`` until ``release``
is set, so a test can prove chunks reach the caller as they arrive. Every hold is capped
(``hold_cap_s``) and released when the server stops, so no thread outlives a test.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLM", "RecordedRequest", "Reply"]


@dataclass
class Reply:
    """One scripted answer. Unset fields take the default reply's values."""

    text: str = "Hello from the fake model."
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    error_message: str = "fake server error"
    retry_after: str | None = None
    body: Any = None
    """A raw JSON body sent as is (odd shapes for F27); streams send it as the only event."""
    usage: bool = True
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    hold: threading.Event | None = None
    hold_after: int | None = None
    release: threading.Event | None = None
    chunk_delay_s: float = 0.0
    model: str | None = None


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-reply (abandoned streams, timeouts) are expected here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


class FakeLLM:
    """``with FakeLLM() as fake:`` serves on ``fake.url`` (``http://127.0.0.1:PORT``)."""

    hold_cap_s = 5.0

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._cond = threading.Condition()
        self._events: list[threading.Event] = []
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self._cond:
            for event in self._events:
                event.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one (the default reply once empty)."""
        with self._cond:
            for reply in replies:
                for event in (reply.hold, reply.release):
                    if event is not None:
                        self._events.append(event)
                self._script.append(reply)

    def wait_for(
        self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float = 5.0
    ) -> None:
        """Wait until ``predicate(self.requests)`` holds, else ``TimeoutError`` naming what came."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.requests), timeout=timeout):
                paths = [r.path for r in self.requests]
                raise TimeoutError(f"fake LLM: condition not met within {timeout}s; saw {paths}")

    def _record(self, request: RecordedRequest) -> Reply:
        with self._cond:
            self.requests.append(request)
            reply = self._script.popleft() if self._script else Reply()
            self._cond.notify_all()
        return reply


def _make_handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without this, Nagle plus delayed ACK
        # stalls each keep-alive call by ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            reply = fake._record(RecordedRequest(path, dict(self.headers.items()), body))
            if reply.hold is not None:
                reply.hold.wait(fake.hold_cap_s)
            if reply.status != 200:
                self._send_error(reply, path)
                return
            build = _ROUTES.get(path.removeprefix("/v1"))
            if build is None or not isinstance(body, dict):
                self._send_json(404, {"error": {"message": f"no route {path}", "type": "invalid"}})
                return
            events = build(body, reply)
            if body.get("stream"):
                self._send_stream(reply, events)
            else:
                self._send_json(200, reply.body if reply.body is not None else events.final)

        def _send_error(self, reply: Reply, path: str) -> None:
            if path.endswith("/messages"):
                kind = "rate_limit_error" if reply.status == 429 else "api_error"
                payload: Any = {
                    "type": "error",
                    "error": {"type": kind, "message": reply.error_message},
                }
            else:
                payload = {"error": {"message": reply.error_message, "type": "server_error"}}
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
            self._send_json(reply.status, payload, headers)

        def _send_json(
            self, status: int, payload: Any, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_stream(self, reply: Reply, events: _Events) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            stream = [(None, reply.body)] if reply.body is not None else list(events.stream)
            try:
                for index, (name, data) in enumerate(stream):
                    if reply.hold_after is not None and index == reply.hold_after:
                        assert reply.release is not None
                        reply.release.wait(fake.hold_cap_s)
                    if reply.chunk_delay_s:
                        time.sleep(reply.chunk_delay_s)
                    text = f"event: {name}\n" if name else ""
                    payload = data if isinstance(data, str) else json.dumps(data)
                    self._chunk(f"{text}data: {payload}\n\n".encode())
                self._chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Handler


@dataclass
class _Events:
    final: Any
    stream: Iterator[tuple[str | None, Any]]


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


def _openai_usage(reply: Reply, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _chat(body: dict[str, Any], reply: Reply) -> _Events:
    model = reply.model or body.get("model", "fake-model")
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(reply.text.split())
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    finish = "tool_calls" if tool_calls else "stop"
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    usage = _openai_usage(reply, prompt, completion) if reply.usage else None
    base = {"id": "chatcmpl-fake1", "created": 1700000000, "model": model}
    final = {
        **base,
        "object": "chat.completion",
        "usage": usage,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }

    def stream() -> Iterator[tuple[str | None, Any]]:
        chunk = {**base, "object": "chat.completion.chunk"}
        yield (
            None,
            {
                **chunk,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
            },
        )
        for word in _words(reply.text) if reply.text else []:
            yield (
                None,
                {
                    **chunk,
                    "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                },
            )
        for i, call in enumerate(tool_calls):
            yield (
                None,
                {
                    **chunk,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": None,
                            "delta": {"tool_calls": [{"index": i, **call}]},
                        }
                    ],
                },
            )
        yield None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        if (body.get("stream_options") or {}).get("include_usage"):
            yield None, {**chunk, "choices": [], "usage": usage}
        yield None, "[DONE]"

    return _Events(final, stream())


def _response_usage(reply: Reply, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens, "cache_write_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _responses(body: dict[str, Any], reply: Reply) -> _Events:
    model = reply.model or body.get("model", "fake-model")
    prompt = len(json.dumps(body.get("input", "")).split())
    message = {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
    }
    calls = [
        {
            "id": f"fc_{i}",
            "type": "function_call",
            "call_id": f"call_{i}",
            "name": name,
            "arguments": json.dumps(args),
            "status": "completed",
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    base = {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1700000000,
        "model": model,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    final = {
        **base,
        "status": "completed",
        "output": [message, *calls],
        "usage": _response_usage(reply, prompt, len(reply.text.split())) if reply.usage else None,
    }

    def stream() -> Iterator[tuple[str | None, Any]]:
        seq = iter(range(1000))

        def event(kind: str, **data: Any) -> tuple[str, Any]:
            return kind, {"type": kind, "sequence_number": next(seq), **data}

        yield event("response.created", response={**base, "status": "in_progress", "output": []})
        empty = {**message, "status": "in_progress", "content": []}
        yield event("response.output_item.added", output_index=0, item=empty)
        part = {"type": "output_text", "text": "", "annotations": []}
        yield event(
            "response.content_part.added",
            output_index=0,
            content_index=0,
            item_id="msg_fake1",
            part=part,
        )
        for word in _words(reply.text):
            yield event(
                "response.output_text.delta",
                output_index=0,
                content_index=0,
                item_id="msg_fake1",
                delta=word,
                logprobs=[],
            )
        yield event(
            "response.output_text.done",
            output_index=0,
            content_index=0,
            item_id="msg_fake1",
            text=reply.text,
            logprobs=[],
        )
        yield event(
            "response.content_part.done",
            output_index=0,
            content_index=0,
            item_id="msg_fake1",
            part={**part, "text": reply.text},
        )
        yield event("response.output_item.done", output_index=0, item=message)
        for i, call in enumerate(calls, start=1):
            yield event("response.output_item.added", output_index=i, item=call)
            yield event("response.output_item.done", output_index=i, item=call)
        yield event("response.completed", response=final)

    return _Events(final, stream())


def _embeddings(body: dict[str, Any], reply: Reply) -> _Events:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    data = []
    for index, _ in enumerate(items):
        vector = [0.25 * (index + 1), 0.5, -0.125]
        if body.get("encoding_format") == "base64":
            encoded: Any = base64.b64encode(struct.pack("<3f", *vector)).decode()
        else:
            encoded = vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    final = {
        "object": "list",
        "data": data,
        "model": reply.model or body.get("model"),
        "usage": {"prompt_tokens": 3 * len(items), "total_tokens": 3 * len(items)},
    }
    return _Events(final, iter(()))


def _messages(body: dict[str, Any], reply: Reply) -> _Events:
    model = reply.model or body.get("model", "fake-claude")
    prompt = sum(len(json.dumps(m.get("content", "")).split()) for m in body.get("messages", []))
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args}
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    stop = "tool_use" if reply.tool_calls else "end_turn"
    usage = {
        "input_tokens": prompt,
        "output_tokens": len(reply.text.split()),
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": 0,
    }
    base = {"id": "msg_fake1", "type": "message", "role": "assistant", "model": model}
    final = {**base, "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}

    def stream() -> Iterator[tuple[str | None, Any]]:
        def event(kind: str, **data: Any) -> tuple[str, Any]:
            return kind, {"type": kind, **data}

        start_usage = {**usage, "output_tokens": 1}
        yield event(
            "message_start",
            message={
                **base,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        )
        for index, block in enumerate(content):
            if block["type"] == "text":
                yield event(
                    "content_block_start", index=index, content_block={"type": "text", "text": ""}
                )
                for word in _words(reply.text):
                    yield event(
                        "content_block_delta",
                        index=index,
                        delta={"type": "text_delta", "text": word},
                    )
            else:
                yield event(
                    "content_block_start", index=index, content_block={**block, "input": {}}
                )
                yield event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                )
            yield event("content_block_stop", index=index)
        yield event(
            "message_delta",
            delta={"stop_reason": stop, "stop_sequence": None},
            usage={"output_tokens": usage["output_tokens"]},
        )
        yield event("message_stop")

    return _Events(final, stream())


_ROUTES: dict[str, Callable[[dict[str, Any], Reply], _Events]] = {
    "/chat/completions": _chat,
    "/responses": _responses,
    "/embeddings": _embeddings,
    "/messages": _messages,
}

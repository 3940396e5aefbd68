"""The pure extractors and accumulators on shapes the fake server does not produce: several
choices, tool-call deltas split across chunks, partial tool JSON, dicts instead of models, and
values of the wrong type (F27: nothing raises, nothing wrong is recorded)."""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

from ashr_labs_instrumentation._call import Request
from ashr_labs_instrumentation.anthropic._extract import message_response, messages_request
from ashr_labs_instrumentation.anthropic._stream import MessagesAccumulator
from ashr_labs_instrumentation.openai._extract import (
    chat_request,
    chat_response,
    responses_request,
    responses_response,
)
from ashr_labs_instrumentation.openai._stream import ChatAccumulator, ResponsesAccumulator

from ashr_labs import _attributes as A


class Omit:
    """Stands in for the SDKs' ``omit`` sentinel (matched by class name)."""


def _request(**kw: Any) -> Request:
    return Request(model=None, attributes={}, input=None, **kw)


def test_chat_request_skips_sentinels_and_keeps_generators_unconsumed() -> None:
    """``omit`` values are not attributes; a generator of messages is passed on untouched."""
    messages = ({"role": "user", "content": str(i)} for i in range(2))
    request = chat_request(
        {
            "model": "m",
            "messages": messages,
            "temperature": Omit(),
            "top_p": 0.5,
            "max_tokens": True,
            "stream": True,
        }
    )
    assert request.input is messages
    assert request.attributes == {A.GEN_AI_REQUEST_TOP_P: 0.5, A.GEN_AI_REQUEST_STREAM: True}
    assert next(messages)["content"] == "0"


def test_chat_response_several_choices_from_dicts() -> None:
    """Two choices give a list output and both finish reasons; dicts read like models."""
    response = {
        "id": "x",
        "model": "m",
        "choices": [
            {"message": {"content": "a"}, "finish_reason": "stop"},
            {
                "message": {
                    "content": None,
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": "lots"},
    }
    extracted = chat_response(response)
    assert extracted.output == [
        {"role": "assistant", "content": "a"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}],
        },
    ]
    assert extracted.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop", "tool_calls"]
    assert extracted.usage == {"input_tokens": 3}
    assert A.GEN_AI_USAGE_OUTPUT_TOKENS not in extracted.attributes


def test_chat_accumulator_joins_tool_call_deltas() -> None:
    """Tool-call names and arguments split over chunks come out whole, per index."""
    acc = ChatAccumulator(_request())
    chunks = [
        {
            "id": "x",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c0", "function": {"name": "f", "arguments": '{"a"'}}
                        ]
                    },
                }
            ],
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    assert all(acc.add(c) for c in chunks)
    result = acc.result()
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c0", "name": "f", "arguments": '{"a": 1}'}],
    }


def test_chat_accumulator_hides_only_an_injected_usage_chunk() -> None:
    """The usage-only chunk is hidden when we asked for it, shown when the caller did."""
    usage_chunk = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    assert ChatAccumulator(_request(injected_usage=True)).add(usage_chunk) is False
    assert ChatAccumulator(_request()).add(usage_chunk) is True


def test_responses_request_and_function_calls() -> None:
    """Instructions lead the input; function calls are tool calls; status is the finish reason."""
    request = responses_request(
        {"model": "m", "input": [{"role": "user", "content": "q"}], "instructions": "sys"}
    )
    assert request.input == [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]
    response = NS(
        id="r",
        model="m",
        status="incomplete",
        incomplete_details=NS(reason="max_output_tokens"),
        usage=None,
        output=[NS(type="function_call", call_id="c", name="f", arguments="{}")],
    )
    extracted = responses_response(response)
    assert extracted.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}],
    }
    assert extracted.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ["max_output_tokens"]


def test_responses_accumulator_partial_text_without_terminal_event() -> None:
    """A stream cut before ``response.completed`` still yields the text so far."""
    acc = ResponsesAccumulator(_request())
    acc.add({"type": "response.created", "response": {"id": "r", "model": "m"}})
    acc.add({"type": "response.output_text.delta", "delta": "Hel"})
    acc.add({"type": "response.output_text.delta", "delta": "lo"})
    result = acc.result()
    assert result.output == {"role": "assistant", "content": "Hello"}
    assert result.attributes[A.GEN_AI_RESPONSE_ID] == "r"


def test_anthropic_request_system_blocks_and_odd_message() -> None:
    """A block-list system prompt leads the input; an odd message records what is there."""
    system = [{"type": "text", "text": "sys"}]
    request = messages_request({"model": "c", "system": system, "messages": []})
    assert request.input == [{"role": "system", "content": system}]
    extracted = message_response(
        {"content": [{"type": "image"}, {"type": "text"}], "usage": None, "stop_reason": 5}
    )
    assert extracted.output == {"role": "assistant", "content": ""}
    assert extracted.usage is None and extracted.attributes == {}


def test_anthropic_accumulator_partial_tool_json() -> None:
    """Tool input arriving as JSON fragments is joined; usage merges start and delta."""
    acc = MessagesAccumulator(_request())
    events = [
        {
            "type": "message_start",
            "message": {"id": "m1", "model": "c", "usage": {"input_tokens": 4, "output_tokens": 1}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": '},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '"x"}'},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
    ]
    for event in events:
        acc.add(event)
    result = acc.result()
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t", "name": "f", "arguments": '{"q": "x"}'}],
    }
    assert result.usage == {"input_tokens": 4, "output_tokens": 9}
    assert result.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_use"]

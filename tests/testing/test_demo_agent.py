"""The quick start's DemoSupportAgent: honest heuristics, deterministic answers."""

from __future__ import annotations

from typing import Any

from ashr_labs import Agent

from ._helpers import demo_module

demo = demo_module()

ROOMS = [
    {
        "name": "book_room",
        "description": "Book a meeting room",
        "parameters": {
            "type": "object",
            "properties": {
                "room": {"type": "string", "enum": ["Alpha", "Beta"]},
                "attendees": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            "required": ["room"],
        },
    }
]


def _calls(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["arguments"]) for c in reply["tool_calls"]]


def test_picks_the_tool_and_reads_arguments() -> None:
    """The tool sharing most words with the message is called with the labelled values."""
    agent = demo.DemoSupportAgent()
    assert isinstance(agent, Agent)
    reply = agent.respond(
        "Hi! I need you to process a refund. The order ID is ORD-5 and the reason is damaged box."
    )
    assert _calls(reply) == [("process_refund", {"order_id": "ORD-5", "reason": "damaged box"})]
    assert reply["text"] == "Done: I used process_refund to process a refund."


def test_asks_for_a_missing_argument_then_calls() -> None:
    """A missing required value is asked for; the answer completes the pending call."""
    agent = demo.DemoSupportAgent()
    first = agent.respond("Good morning. I need you to look up order status.")
    assert first == {
        "text": "I can help with that. Could you tell me the order ID?",
        "tool_calls": [],
    }
    second = agent.respond("Sure, the order ID is ORD-11588.")
    assert _calls(second) == [("lookup_order", {"order_id": "ORD-11588"})]


def test_memory_recall_retry_and_reset() -> None:
    """Values carry across turns; "which ... did you use" and "try again" use memory;
    reset forgets."""
    agent = demo.DemoSupportAgent()
    agent.respond("Please look up order status for ORD-7.")
    chained = agent.respond("Now please process a refund as well. The reason is late.")
    assert _calls(chained) == [("process_refund", {"order_id": "ORD-7", "reason": "late"})]
    assert agent.respond("Could you please try again?")["tool_calls"] == chained["tool_calls"]
    assert agent.respond("Just to confirm, which order ID did you use?")["text"] == (
        "I used the order ID ORD-7."
    )
    agent.reset()
    assert agent.respond("Could you please try again?")["tool_calls"] == []


def test_schema_rules_and_corrections() -> None:
    """Enum and bound violations are refused with the reason; the last mention wins."""
    agent = demo.DemoSupportAgent(ROOMS)
    refused = agent.respond("Please book a meeting room. The room is Gamma.")
    assert refused["tool_calls"] == []
    assert "Gamma is not a valid room: it must be one of Alpha, Beta" in refused["text"]
    too_many = agent.respond("The room is beta and the attendees is 50.")
    assert "it must be at most 20" in too_many["text"]
    fixed = agent.respond("Sorry: the attendees is 30. No wait, the attendees is actually 12.")
    assert _calls(fixed) == [("book_room", {"room": "Beta", "attendees": 12})]


def test_observe_summarises_results_and_errors() -> None:
    """observe() turns tool results and errors into text and leaves tool calls alone."""
    agent = demo.DemoSupportAgent()
    result = agent.observe(
        'tool result: {"tool": "lookup_order", "output": {"success": true, '
        '"order_id": "ORD-1", "status": "shipped"}}',
        {},
    )
    assert result == {
        "text": "Done: I used lookup_order to look up order status. "
        "Result: order ID: ORD-1, status: shipped."
    }
    error = agent.observe(
        'tool error: {"tool": "process_refund", "error": {"code": "TIMEOUT", '
        '"message": "the request timed out"}}',
        {},
    )
    assert error["text"].startswith(
        "I'm sorry, I couldn't process a refund because the request timed out."
    )
    assert agent.observe("something else entirely", {}) == {}


def test_without_tools_it_only_talks() -> None:
    """An agent given no tools never calls one."""
    agent = demo.DemoSupportAgent([])
    assert agent.respond("Please process a refund for ORD-1.")["tool_calls"] == []

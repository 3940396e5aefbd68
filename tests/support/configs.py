"""Documents several tests share: the API reference's generation configs and tools, and a
minimal run result for ``create_run``.

Tests read the constants as they are: deep-copy one before changing it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CREATE_REQUEST_EXAMPLE",
    "GENERATE_DATASET_EXAMPLE",
    "LOOKUP_ORDER_TOOL",
    "PROCESS_REFUND_TOOL",
    "run_result",
]

LOOKUP_ORDER_TOOL: dict[str, Any] = {
    "name": "lookup_order",
    "description": "Look up order status",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
"""The ``generate_dataset`` example's first tool."""

PROCESS_REFUND_TOOL: dict[str, Any] = {
    "name": "process_refund",
    "description": "Process a refund",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
        "required": ["order_id", "reason"],
    },
}
"""The ``generate_dataset`` example's second tool."""

GENERATE_DATASET_EXAMPLE: dict[str, Any] = {
    "agent": {
        "name": "Support Bot",
        "description": "Handles customer orders, inventory, and refunds",
        "system_prompt": "You are a helpful support agent for ShopWave.",
        "tools": [LOOKUP_ORDER_TOOL, PROCESS_REFUND_TOOL],
        "accepted_inputs": {"text": True, "audio": False, "file": False},
    },
    "context": {
        "domain": "e-commerce",
        "use_case": "Customer support for online retail orders",
        "user_persona": {"type": "customer", "description": "Online shoppers"},
    },
    "test_config": {
        "num_variations": 10,
        "strategy": "diverse",
        "coverage": {"happy_path": True, "edge_cases": True, "error_handling": True},
    },
    "generation_options": {
        "generate_audio": False,
        "generate_files": False,
        "generate_simulations": False,
    },
}
"""The API reference's ``generate_dataset`` example ``config``, verbatim."""

CREATE_REQUEST_EXAMPLE: dict[str, Any] = {
    "metadata": {"dataset_name": "Support Eval"},
    "agent": {
        "name": "Support Bot",
        "description": "Answers customer questions about orders and refunds",
        "system_prompt": "You are a helpful support agent.",
        "tools": [
            {
                "name": "lookup_order",
                "description": "Look up an order by ID",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string", "description": "The order ID"}},
                    "required": ["order_id"],
                },
            },
        ],
        "accepted_inputs": {"text": True, "audio": False, "file": False},
        "output_format": {"type": "text"},
    },
    "context": {
        "domain": "e-commerce",
        "use_case": "Customers asking about order status, requesting refunds",
        "scenario_context": "An online retail store called ShopWave",
        "user_persona": {"type": "customer", "description": "Online shoppers"},
    },
    "test_config": {
        "num_variations": 10,
        "strategy": "diverse",
        "coverage": {"happy_path": True, "edge_cases": True, "error_handling": True},
        "complexity_distribution": {"simple": 0.3, "moderate": 0.5, "complex": 0.2},
    },
    "expected_behaviors": {"must_include": ["order"], "expected_tools": ["lookup_order"]},
}
"""The API reference's ``create_request`` example ``request``, verbatim (``expected_behaviors``
included: our client sends it, the published one rejects it, the generator ignores it)."""


def run_result(passed: int = 1) -> dict[str, Any]:
    """A fresh one-test run result (protocol.md §4.4) with all six aggregate metrics."""
    return {
        "tests": [{"test_id": "s1", "status": "completed", "action_results": []}],
        "status": "completed",
        "started_at": None,
        "completed_at": None,
        "aggregate_metrics": {
            "total_tests": 1,
            "tests_passed": passed,
            "tests_failed": 0,
            "total_tool_call_divergence": 0,
            "total_response_divergence": 0,
            "average_similarity_score": None,
        },
    }

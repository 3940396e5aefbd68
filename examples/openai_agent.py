"""A tool-calling agent on ``openai``, traced with zero code and evaluated with ``EvalRunner``.

The agent has no tracing code at all. Tracing comes from outside, one of two ways:

* from code: ``ashr_labs.instrument(client)`` (what ``main()`` does), or
* with the stock launcher: ``OTEL_TRACES_EXPORTER=ashr ASHR_LABS_API_KEY=tp_...
  ASHR_LABS_BASE_URL=... opentelemetry-instrument python examples/openai_agent.py`` (without
  ``OTEL_TRACES_EXPORTER=ashr`` the launcher's spans go to its default OTLP endpoint, not Ashr).

Every model call becomes an Ashr generation (input, output, tool calls, tokens). It runs
against any OpenAI-compatible endpoint: set ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` and
``OPENAI_MODEL`` (default ``gpt-4o-mini``). Without ``ASHR_LABS_API_KEY`` it starts a
throwaway local Ashr server, generates a small dataset there, runs the agent on it, deploys the
run and prints the grade and how many generations were traced.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["TOOLS", "OpenAIToolAgent", "evaluate", "main"]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
    {
        "name": "search_flights",
        "description": "Search flights between two cities on a date",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string"},
                "destination": {"type": "string"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
            },
            "required": ["origin", "destination", "date"],
        },
    },
]

SYSTEM_PROMPT = "You are a travel assistant. Use the tools when they apply."


class OpenAIToolAgent:
    """The ``Agent`` protocol on the chat completions API: ``respond(message)`` and ``reset()``."""

    def __init__(self, client: Any, model: str, tools: list[dict[str, Any]] | None = None) -> None:
        self.client = client
        self.model = model
        self.tools = [{"type": "function", "function": dict(tool)} for tool in (tools or TOOLS)]
        self.history: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.history = []

    def respond(self, message: str) -> dict[str, Any]:
        self.history.append({"role": "user", "content": message})
        completion = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, *self.history],
            tools=self.tools,
        )
        reply = completion.choices[0].message
        calls = [
            {"name": call.function.name, "arguments": _arguments(call.function.arguments)}
            for call in reply.tool_calls or []
        ]
        self.history.append(reply.model_dump(exclude_none=True))
        for call in reply.tool_calls or []:
            # Without a real backend the tool result is a stub; a real agent would run the tool.
            self.history.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})
        return {"text": reply.content or "", "tool_calls": calls}


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def evaluate(ashr: Any, llm: Any, model: str, *, num_variations: int = 2) -> dict[str, Any]:
    """Generate a dataset on ``ashr``, run the agent on it with tracing on, deploy, wait for grades.

    Returns ``{"run_id", "tests_passed", "total_tests", "generations"}``.
    """
    import ashr_labs
    from ashr_labs import EvalRunner

    config = {
        "agent": {
            "name": "Travel Assistant",
            "description": "Answers weather questions and finds flights",
            "system_prompt": SYSTEM_PROMPT,
            "tools": TOOLS,
            "accepted_inputs": {"text": True, "audio": False, "file": False},
        },
        "context": {"domain": "travel", "use_case": "Trip planning: weather and flights"},
        "test_config": {"num_variations": num_variations},
        "generation_options": {
            "generate_audio": False,
            "generate_files": False,
            "generate_simulations": False,
        },
    }
    ashr_labs.instrument(ashr)
    try:
        dataset_id, source = ashr.generate_dataset(
            "OpenAI agent eval", config, timeout=60, poll_interval=0.2
        )
        with ashr.trace("openai-agent-eval") as trace:
            run = EvalRunner(source).run(OpenAIToolAgent(llm, model))
        ashr.flush()
    finally:
        ashr_labs.uninstrument()
    created = run.deploy(ashr, dataset_id=dataset_id)
    graded = ashr.poll_run(created["id"], timeout=60, poll_interval=0.2)
    metrics = graded["result"]["aggregate_metrics"]
    observations = ashr.get_observability_trace(trace.trace_id)["trace"]["observations"]
    return {
        "run_id": created["id"],
        "tests_passed": metrics["tests_passed"],
        "total_tests": metrics["total_tests"],
        "generations": sum(1 for o in observations if o["type"] == "generation"),
    }


def main() -> None:
    import tempfile

    import openai

    from ashr_labs import AshrLabsClient

    llm = openai.OpenAI()  # reads OPENAI_BASE_URL and OPENAI_API_KEY
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    if os.environ.get("ASHR_LABS_API_KEY"):
        with AshrLabsClient.from_env() as ashr:
            print(evaluate(ashr, llm, model))
        return
    from ashr_labs.server import LocalServer

    with tempfile.TemporaryDirectory() as data_dir, LocalServer(data_dir=data_dir) as server:
        with AshrLabsClient(api_key=server.api_key, base_url=server.url) as ashr:
            print(evaluate(ashr, llm, model))


if __name__ == "__main__":
    main()

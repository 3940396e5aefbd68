"""The quick start: a local Ashr server, a generated dataset, an evaluated and traced agent.

Runs with no account and no network: it starts ``LocalServer`` in this process (127.0.0.1, a
temporary SQLite database), then uses the SDK exactly as against the hosted API:

1. create an agent with grading rules;
2. generate a dataset from the agent's description and tools, and show its scenarios;
3. run a deterministic demo agent over every scenario with ``EvalRunner``, tracing each scenario;
4. deploy the run, wait for the server to grade it, print a pass/fail table and the aggregate;
5. read one trace back from the server and print its observation tree.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_agent import DEFAULT_TOOLS, DemoSupportAgent  # noqa: E402

from ashr_labs import AshrLabsClient, EvalRunner, Trace  # noqa: E402
from ashr_labs.server import LocalServer  # noqa: E402

CONFIG: dict[str, Any] = {
    "metadata": {"dataset_name": "ShopWave support"},
    "agent": {
        "name": "Support Bot",
        "description": "Handles customer orders and refunds",
        "system_prompt": "You are a helpful support agent for ShopWave.",
        "tools": DEFAULT_TOOLS,
        "accepted_inputs": {"text": True, "audio": False, "file": False},
    },
    "context": {"domain": "e-commerce", "use_case": "Customer support for online orders"},
    "test_config": {
        "num_variations": 6,
        "coverage": {"happy_path": True, "edge_cases": True, "error_handling": True},
    },
    "generation_options": {"generate_audio": False, "generate_files": False},
}

GRADING = {
    "tool_definitions": [
        {"name": "lookup_order", "required": True, "description": "Look up order status"},
        {"name": "process_refund", "required": True, "description": "Process a refund"},
    ],
    "grading_config": {
        "tool_strictness": {"lookup_order": "required", "process_refund": "required"},
        "text_similarity_threshold": 0.3,
    },
}


class TracedDemoAgent(DemoSupportAgent):
    """The demo agent with one Ashr trace per scenario: a span per turn, a child per tool call."""

    def __init__(self, client: AshrLabsClient) -> None:
        super().__init__(DEFAULT_TOOLS)
        self._client = client
        self._trace: Trace | None = None
        self.trace_ids: list[str] = []

    def reset(self, scenario_id: str | None = None) -> None:
        super().reset()
        self.finish()
        self._trace = self._client.trace(
            f"scenario {scenario_id}", session_id=scenario_id, tags=["quickstart"]
        )
        self.trace_ids.append(self._trace.trace_id)

    def respond(self, message: str) -> dict[str, Any]:
        assert self._trace is not None, "reset() starts a trace before the first turn"
        with self._trace.span("respond", input={"message": message}) as turn:
            result = super().respond(message)
            for call in result.get("tool_calls", []):
                turn.span(f"tool:{call['name']}", input=call.get("arguments")).end(output="ok")
            turn.end(output=result)
        return result

    def finish(self) -> None:
        if self._trace is not None:
            self._trace.end()
            self._trace = None


def show_scenarios(source: dict[str, Any]) -> None:
    print(f"\nGenerated {len(source['runs'])} scenarios:")
    for scenario_id, scenario in source["runs"].items():
        print(f"  {scenario_id}: {scenario['title']}")
        for action in scenario["actions"]:
            expected = action.get("expected_response", {}).get("tool_calls", [])
            calls = ", ".join(f"{c['name']}({c['arguments_json']})" for c in expected)
            text = (action.get("content") or "").replace("\n", " ")[:70]
            arrow = f"  -> {calls}" if calls else ""
            print(f"      {action.get('actor', 'user'):>11}: {text}{arrow}")


def show_results(graded: dict[str, Any]) -> None:
    result = graded["result"]
    print(f"\nRun #{graded['id']} graded ({graded.get('grading_status')}):")
    print(f"  {'scenario':<16} {'status':<10} tool calls (exact/total)")
    for test in result["tests"]:
        entries = [
            entry
            for action in test["action_results"]
            if action.get("action_type") == "tool_call"
            for entry in action["tool_calls"]
        ]
        exact = sum(1 for entry in entries if entry.get("match_status") == "exact")
        print(f"  {test['test_id']:<16} {test['status']:<10} {exact}/{len(entries)}")
    metrics = result["aggregate_metrics"]
    print(
        f"  passed {metrics['tests_passed']}/{metrics['total_tests']}, "
        f"tool-call divergences {metrics['total_tool_call_divergence']}, "
        f"average text similarity {metrics['average_similarity_score']}"
    )


def show_trace(trace: dict[str, Any]) -> None:
    print(f"\nTrace {trace['id']} '{trace['name']}' read back from the server:")
    observations = trace["observations"]
    children: dict[str | None, list[dict[str, Any]]] = {}
    for obs in observations:
        children.setdefault(obs.get("parent_observation_id"), []).append(obs)

    def walk(parent: str | None, depth: int) -> None:
        for obs in children.get(parent, []):
            print(f"  {'  ' * depth}{obs['type']:<10} {obs['name']}")
            walk(obs["id"], depth + 1)

    walk(None, 0)


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir, LocalServer(data_dir=data_dir) as server:
        print(f"Local Ashr server at {server.url}")
        with AshrLabsClient(api_key=server.api_key, base_url=server.url) as client:
            agent_record = client.create_agent(
                "Support Bot", description="Order and refund support", config=GRADING
            )
            dataset_id, source = client.generate_dataset(
                "Quick start eval", CONFIG, timeout=60, poll_interval=1
            )
            show_scenarios(source)

            agent = TracedDemoAgent(client)
            run = EvalRunner(source).run(agent, on_environment=agent.observe)
            agent.finish()
            created = run.deploy(client, dataset_id=dataset_id, agent_id=agent_record["id"])
            graded = client.poll_run(created["id"], timeout=60, poll_interval=1)
            show_results(graded)

            report = client.flush(timeout=10)
            print(f"\nTracing: {report}")
            trace = client.get_observability_trace(agent.trace_ids[0])["trace"]
            show_trace(trace)


if __name__ == "__main__":
    main()

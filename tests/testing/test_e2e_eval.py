"""End to end on the real local server: generate a dataset, run an agent (sequential, threads,
async), deploy, poll until graded."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import pytest

from ashr_labs import EvalRunner
from tests.support.configs import GENERATE_DATASET_EXAMPLE

from ._helpers import demo_module, drop_timestamps

demo = demo_module()

CONFIG = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
CONFIG["test_config"]["num_variations"] = 6  # fewer scenarios: the e2e runs the set four ways


class AsyncDemo:
    """The demo agent behind async methods."""

    def __init__(self) -> None:
        self.inner = demo.DemoSupportAgent()

    async def reset(self) -> None:
        self.inner.reset()

    async def respond(self, message: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return dict(self.inner.respond(message))

    def observe(self, content: str, action: dict[str, Any]) -> dict[str, Any]:
        return dict(self.inner.observe(content, action))


@pytest.fixture
def dataset(client: Any) -> tuple[int, dict[str, Any]]:
    dataset_id, source = client.generate_dataset("E2E eval", CONFIG, timeout=30, poll_interval=0.05)
    return dataset_id, source


def _graded(client: Any, run_id: int) -> dict[str, Any]:
    graded = client.poll_run(run_id, timeout=20, poll_interval=0.05)
    assert graded["grading_status"] == "completed"
    return dict(graded)


def test_generate_run_deploy_and_poll_sequentially(
    client: Any, dataset: tuple[int, dict[str, Any]]
) -> None:
    """from_dataset + run_and_deploy (dataset id remembered) + poll_run gives a graded run."""
    dataset_id, source = dataset
    runner = EvalRunner.from_dataset(client, dataset_id)
    agent = demo.DemoSupportAgent()
    created = runner.run_and_deploy(agent, client, on_environment=agent.observe)
    assert created["dataset"] == dataset_id
    assert created["grading_status"] == "pending"
    graded = _graded(client, created["id"])
    metrics = graded["result"]["aggregate_metrics"]
    scenarios = [sid for sid, sc in source["runs"].items() if sc.get("actions")]
    assert metrics["total_tests"] == len(scenarios)
    assert isinstance(metrics["tests_passed"], int)
    assert metrics["tests_passed"] == len(scenarios)  # the demo agent answers this dataset
    assert metrics["total_tool_call_divergence"] == 0
    assert [t["test_id"] for t in graded["result"]["tests"]] == scenarios


def test_threads_and_async_runs_match_the_sequential_run(
    client: Any, dataset: tuple[int, dict[str, Any]]
) -> None:
    """Four worker threads and an async agent on one loop record the same document."""
    dataset_id, source = dataset
    runner = EvalRunner(source, dataset_id=dataset_id)
    agent = demo.DemoSupportAgent()
    sequential = runner.run(agent, on_environment=agent.observe)
    threaded = runner.run(agent, on_environment=agent.observe, max_workers=4)
    shared = AsyncDemo()
    async_run = asyncio.run(
        runner.arun(None, agent_factory=AsyncDemo, on_environment=shared.observe, max_concurrency=4)
    )
    expected = drop_timestamps(sequential.build())
    assert drop_timestamps(threaded.build()) == expected
    assert drop_timestamps(async_run.build()) == expected
    for run in (threaded, async_run):
        created = run.deploy(client, dataset_id=dataset_id)
        graded = _graded(client, created["id"])
        assert graded["result"]["aggregate_metrics"]["total_tests"] == len(run.tests)


def test_deploy_links_the_agent_and_survives_a_failed_link(
    client: Any, dataset: tuple[int, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """deploy(agent_id=...) links the dataset; a link that fails is logged and the run is made."""
    dataset_id, source = dataset
    created_agent = client.create_agent(name="E2E agent", description="demo")
    run = EvalRunner(source).run(demo.DemoSupportAgent())
    created = run.deploy(client, dataset_id=dataset_id, agent_id=created_agent["id"])
    assert client.get_dataset(dataset_id)["agent_id"] == created_agent["id"]
    assert client.get_run(created["id"])["dataset"] == dataset_id
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        again = run.deploy(client, dataset_id=dataset_id, agent_id=987654)
    assert again["id"] != created["id"]
    assert "could not link dataset" in caplog.text and "987654" in caplog.text


def test_failed_scenarios_deploy_with_their_error(
    client: Any, dataset: tuple[int, dict[str, Any]]
) -> None:
    """A test recorded as failed (agent error) deploys, stays failed, and keeps its error."""
    dataset_id, source = dataset

    class Broken:
        def reset(self) -> None:
            pass

        def respond(self, message: str) -> dict[str, Any]:
            raise RuntimeError("model unavailable")

    created = EvalRunner(source).run_and_deploy(Broken(), client, dataset_id)
    graded = _graded(client, created["id"])
    tests = graded["result"]["tests"]
    assert tests and all(t["status"] == "failed" for t in tests)
    assert tests[0]["error"] == {
        "type": "RuntimeError",
        "message": "respond raised RuntimeError: model unavailable",
        "attempts": 1,
    }
    assert graded["result"]["aggregate_metrics"]["tests_passed"] == 0

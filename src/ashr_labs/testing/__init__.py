"""Testing Platform: datasets, runs, builders, ``EvalRunner`` and the comparators.

Evaluate an agent against a generated dataset and submit the run for grading::

    from ashr_labs import AshrLabsClient, EvalRunner

    client = AshrLabsClient.from_env()
    dataset_id, source = client.generate_dataset("Support eval", config)
    runner = EvalRunner(source, dataset_id=dataset_id)
    run = runner.run(agent, max_workers=4, scenario_timeout_s=120)  # or agent_factory=...
    created = run.deploy(client, dataset_id=dataset_id)
    graded = client.poll_run(created["id"])
    print(graded["result"]["aggregate_metrics"])

An agent is any object with ``respond(message) -> {"text", "tool_calls"}`` and ``reset()``
(``Agent``); ``async def`` methods work too (``AsyncAgent``; ``await runner.arun(agent)``).
A scenario that fails is recorded as a ``failed`` test with an ``error`` object, never raised.
``RunBuilder``/``TestBuilder`` build the same run document by hand.
"""

from __future__ import annotations

from .._matching import (
    compare_args_structural,
    compare_args_with_schema,
    compare_tool_args,
    extract_tool_args,
    fuzzy_str_match,
    pair_tool_calls,
    strip_markdown,
    text_similarity,
    tokenize,
)
from ._api import TestingPlatformMethods
from ._builders import RunBuilder, TestBuilder
from ._runner import Agent, AsyncAgent, EvalRunner

__all__ = [
    "Agent",
    "AsyncAgent",
    "EvalRunner",
    "RunBuilder",
    "TestBuilder",
    "TestingPlatformMethods",
    "compare_args_structural",
    "compare_args_with_schema",
    "compare_tool_args",
    "extract_tool_args",
    "fuzzy_str_match",
    "pair_tool_calls",
    "strip_markdown",
    "text_similarity",
    "tokenize",
]

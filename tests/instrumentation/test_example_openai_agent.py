"""``examples/openai_agent.py`` runs end to end: the fake model server plays the OpenAI endpoint,
the local Ashr server generates the dataset, stores the traced generations and grades the run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import openai

from tests.support.fake_llm import FakeLLM, Reply

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "openai_agent.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("openai_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_openai_agent_example(fake: FakeLLM, client: Any) -> None:
    """The agent's calls are traced as generations inside the eval trace and the run is graded."""
    example = _load()
    fake.script(*[Reply(tool_calls=[("get_weather", {"city": "Paris"})])] * 3)
    llm = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    result = example.evaluate(client, llm, "gpt-test", num_variations=2)
    assert result["total_tests"] >= 1
    calls = [r for r in fake.requests if r.path == "/v1/chat/completions"]
    assert calls and all(r.body["tools"][0]["type"] == "function" for r in calls)
    assert result["generations"] == len(calls)

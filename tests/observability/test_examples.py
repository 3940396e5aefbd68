"""The tracing examples run as documented: ``main()`` on a throwaway local server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_traced_agent_example(capsys: Any) -> None:
    """@observe and manual traces both arrive with their observation trees."""
    out = load("traced_agent").main()
    assert out["result"]["intent"] == "password_reset"
    decorated, manual = out["decorated"], out["manual"]
    assert decorated["name"] == "handle-ticket" and decorated["session_id"] == "conv_abc"
    assert [o["name"] for o in decorated["observations"]] == ["classify-intent", "tool:search-kb"]
    assert decorated["observations"][0]["type"] == "generation"
    assert [o["type"] for o in manual["observations"]] == ["generation", "span", "event"]
    assert manual["observations"][0]["usage"] == {"input_tokens": 50, "output_tokens": 12}
    assert "agent answered" in capsys.readouterr().out


def test_otel_pipeline_example_second_processor_sees_masked_spans() -> None:
    """A processor on client.tracer_provider gets the spans, masked; Ashr gets the trace."""
    out = load("otel_pipeline").main()
    by_name = {s["name"]: s for s in out["otel_spans"]}
    assert by_name["lookup"]["attributes"]["ashr.observation.input"] == '"<email>"'
    assert "alice@example.com" not in repr(out)
    assert [o["name"] for o in out["ashr_trace"]["observations"]] == ["lookup"]

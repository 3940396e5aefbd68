"""Zero-code tracing: ``opentelemetry-instrument`` runs an unmodified program against the fake
model server and exports into the real local server (``OTEL_TRACES_EXPORTER=ashr``).

Model calls outside any span become traces of their own; the program's own spans travel only
when they hold a model call; the exporter's HTTP makes no span although the requests
instrumentation is on (F17). Contrib's ``opentelemetry-instrumentation-openai-v2`` spans are
mapped to generations too (interop).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.scripted_backend import ScriptedBackend, Step

LAUNCHER = Path(sys.executable).parent / "opentelemetry-instrument"

APP = """
import os
import openai
from opentelemetry import trace

mark = os.environ["MARK"]
client = openai.OpenAI(base_url=os.environ["FAKE_URL"] + "/v1", api_key="test", max_retries=0)
tracer = trace.get_tracer("my.app")
ask = [{"role": "user", "content": "a"}]
client.chat.completions.create(model="alone-" + mark, messages=ask)
with tracer.start_as_current_span("app-work-" + mark):
    client.chat.completions.create(model="nested-" + mark, messages=ask)
if os.environ.get("WITH_ANTHROPIC"):
    import anthropic

    claude = anthropic.Anthropic(base_url=os.environ["FAKE_URL"], api_key="test", max_retries=0)
    with tracer.start_as_current_span("claude-work-" + mark):
        claude.messages.create(model="claude-" + mark, max_tokens=9, messages=ask)
with tracer.start_as_current_span("no-llm-" + mark):
    if os.environ.get("WITH_REQUESTS"):  # the app's own HTTP: a span the requests instr. makes
        import requests

        requests.post(os.environ["FAKE_URL"] + "/v1/chat/completions", json={"messages": ask})
print("app done")
"""


def _run_app(
    tmp_path: Path,
    fake: FakeLLM,
    server: Any,
    mark: str,
    disabled: str,
    exporters: str = "ashr,console",
    **extra: str,
) -> str:
    """Run APP under the stock launcher; the entry points come from this venv's install."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "ASHR_LABS_API_KEY": server.api_key,
        "ASHR_LABS_BASE_URL": server.url,
        "OTEL_TRACES_EXPORTER": exporters,
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "FAKE_URL": fake.url,
        "MARK": mark,
        **extra,
    }
    done = subprocess.run(
        [str(LAUNCHER), sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "app done" in done.stdout
    return done.stdout


def _console_spans(stdout: str) -> list[dict[str, Any]]:
    """Every span the console exporter printed (one JSON object each, after "app done")."""
    text = stdout[stdout.index("app done") + len("app done") :]
    decoder = json.JSONDecoder()
    spans, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return spans
        span, at = decoder.raw_decode(text, at)
        spans.append(span)


def _traces(client: Any, mark: str) -> dict[str, dict[str, Any]]:
    listed = client.list_observability_traces(limit=100)["traces"]
    found = {}
    for item in listed:
        trace = client.get_observability_trace(item["id"])["trace"]
        models = [o.get("model") or "" for o in trace["observations"]]
        if mark in trace.get("name", "") or any(mark in m for m in models):
            found[trace["name"]] = trace
    return found


def _generation_models(trace: dict[str, Any]) -> list[str]:
    return [o["model"] for o in trace["observations"] if o["type"] == "generation"]


def _http_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if any(k.startswith(("http.", "url.")) for k in s["attributes"])]


@pytest.mark.slow
def test_f17_zero_code_ours(tmp_path: Path, fake: FakeLLM, local_server: Any, client: Any) -> None:
    """Our instrumentors under the stock launcher, requests instrumentation on: a trace per
    LLM tree, one ingest request per trace and no span for the exporter's HTTP (F17)."""
    mark = uuid.uuid4().hex[:8]
    counter = ScriptedBackend(default=Step(action="proxy", forward_to=local_server.url))
    with counter:
        via = SimpleNamespace(url=counter.url, api_key=local_server.api_key)
        console = _run_app(tmp_path, fake, via, mark, disabled="openai", WITH_REQUESTS="1")
    assert counter.count("ingest_observability_trace") == 2  # one per trace: no export loop
    traces = _traces(client, mark)
    assert f"no-llm-{mark}" not in traces
    nested = traces[f"app-work-{mark}"]
    assert _generation_models(nested) == [f"nested-{mark}"]
    alone = [t for name, t in traces.items() if name != f"app-work-{mark}"]
    assert len(alone) == 1 and _generation_models(alone[0]) == [f"alone-{mark}"]
    spans = _console_spans(console)
    generations = [s for s in spans if s["attributes"].get("ashr.observation.type")]
    assert sorted(s["name"] for s in generations) == [f"chat alone-{mark}", f"chat nested-{mark}"]
    # The requests instrumentation is live (the app's own POST has a span) ...
    (app_http,) = _http_spans(spans)
    assert fake.url in json.dumps(app_http["attributes"])
    # ... and nothing the exporter sent made one, not even outside the HTTP attributes.
    port = counter.url.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}" not in console


@pytest.mark.slow
def test_zero_code_anthropic_one_generation_per_call(
    tmp_path: Path, fake: FakeLLM, local_server: Any, client: Any
) -> None:
    """anthropic's own API-call span (global provider) does not make a second generation.
    The exporter alone, as users run it: ``OTEL_TRACES_EXPORTER=ashr``."""
    mark = uuid.uuid4().hex[:8]
    _run_app(
        tmp_path, fake, local_server, mark, disabled="openai", exporters="ashr", WITH_ANTHROPIC="1"
    )
    trace = _traces(client, mark)[f"claude-work-{mark}"]
    assert _generation_models(trace) == [f"claude-{mark}"]
    (generation,) = [o for o in trace["observations"] if o["type"] == "generation"]
    library = [o for o in trace["observations"] if o["parent_observation_id"] == generation["id"]]
    assert [o["type"] for o in library] == ["span"]  # anthropic's own call span, kept as a span
    assert library[0]["metadata"]["gen_ai.provider.name"] == "anthropic"


def _contrib_importable() -> str | None:
    try:
        import opentelemetry.instrumentation.openai_v2  # noqa: F401
    except ImportError as exc:
        return (
            f"contrib openai-v2 cannot be imported here ({exc}); the `test` extra pins versions "
            "that import together: reinstall with pip install -e '.[test]'"
        )
    return None


@pytest.mark.slow
@pytest.mark.skipif(_contrib_importable() is not None, reason=str(_contrib_importable()))
def test_zero_code_contrib_openai_v2_interop(
    tmp_path: Path, fake: FakeLLM, local_server: Any, client: Any
) -> None:
    """With ours off and contrib's openai-v2 on, its spans still arrive as generations."""
    mark = uuid.uuid4().hex[:8]
    console = _run_app(
        tmp_path,
        fake,
        local_server,
        mark,
        disabled="ashr_openai",
        # The latest GenAI conventions put the messages on the span (not in log events).
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",
    )
    # Only contrib saw the calls: GenAI spans, none of ours.
    assert f'"name": "chat nested-{mark}"' in console, console
    assert '"ashr.observation.type"' not in console
    traces = _traces(client, mark)
    assert f"no-llm-{mark}" not in traces
    nested = traces[f"app-work-{mark}"]
    assert _generation_models(nested) == [f"nested-{mark}"]
    (generation,) = [o for o in nested["observations"] if o["type"] == "generation"]
    assert generation["usage"] == {"input_tokens": 1, "output_tokens": 5}
    assert generation["input"][0]["parts"][0]["content"] == "a"
    assert generation["output"][0]["parts"][0]["content"] == "Hello from the fake model."
    alone = [t for name, t in traces.items() if name != f"app-work-{mark}"]
    assert len(alone) == 1 and _generation_models(alone[0]) == [f"alone-{mark}"]


@pytest.mark.slow
@pytest.mark.skipif(_contrib_importable() is not None, reason=str(_contrib_importable()))
def test_zero_code_ours_and_contrib_one_generation_per_call(
    tmp_path: Path, fake: FakeLLM, local_server: Any, client: Any
) -> None:
    """Both openai instrumentors on: each call is one generation (ours), contrib's a span."""
    mark = uuid.uuid4().hex[:8]
    console = _run_app(tmp_path, fake, local_server, mark, disabled="")
    assert console.count(f'"name": "chat nested-{mark}"') == 2  # both instrumentors saw it
    traces = _traces(client, mark)
    nested = traces[f"app-work-{mark}"]
    assert _generation_models(nested) == [f"nested-{mark}"]
    (generation,) = [o for o in nested["observations"] if o["type"] == "generation"]
    assert generation["input"] == [{"role": "user", "content": "a"}]  # ours, not contrib's
    (other,) = [
        o
        for o in nested["observations"]
        if o["name"] == f"chat nested-{mark}" and o["type"] == "span"
    ]
    assert other["metadata"]["gen_ai.provider.name"] == "openai"
    alone = [t for name, t in traces.items() if name != f"app-work-{mark}"]
    assert len(alone) == 1 and _generation_models(alone[0]) == [f"alone-{mark}"]

"""Zero-code tracing: the stock SDK configurator with ``OTEL_TRACES_EXPORTER=ashr`` (F03, F19).

The child calls the configurator that ``opentelemetry-instrument`` runs at start-up (the one
``opentelemetry-distro`` ships), so the test does not depend on a distro being installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

APP = """
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
_OTelSDKConfigurator().configure()
from opentelemetry import trace
tracer = trace.get_tracer("app")
for i in range({count}):
    with tracer.start_as_current_span(f"request-{{i}}", attributes={{"session.id": "{tag}"}}):
        with tracer.start_as_current_span("chat m") as llm:
            llm.set_attribute("gen_ai.request.model", "m")
            llm.set_attribute("gen_ai.usage.input_tokens", 3)
    with tracer.start_as_current_span("health"):
        pass
print("app done", flush=True)
"""


def run_app(env_extra: dict[str, str], count: int, tag: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASHR_LABS_", "OTEL_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        OTEL_TRACES_EXPORTER="ashr",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="50",
        **env_extra,
    )
    code = textwrap.dedent(APP.format(count=count, tag=tag))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )


def test_f03_zero_code_traces_arrive_before_exit(local_server: Any, client: Any) -> None:
    """An unmodified app under the SDK configurator: every LLM-bearing request arrives."""
    tag = uuid.uuid4().hex
    done = run_app(
        {"ASHR_LABS_API_KEY": local_server.api_key, "ASHR_LABS_BASE_URL": local_server.url},
        30,
        tag,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    names = set()
    for page in (1, 2, 3):
        listed = client.list_observability_traces(limit=100, page=page)
        names |= {t["name"] for t in listed["traces"]}
    assert {f"request-{i}" for i in range(30)} <= names
    assert "health" not in names


def test_f19_zero_code_with_bad_env_runs_the_app() -> None:
    """A bad key in the environment: tracing stays off, the app runs and exits 0."""
    done = run_app(
        {"ASHR_LABS_API_KEY": "not-a-key", "ASHR_LABS_BASE_URL": "http://127.0.0.1:9"},
        3,
        "x",
    )
    assert done.returncode == 0, done.stderr
    assert "app done" in done.stdout and "Traceback" not in done.stderr

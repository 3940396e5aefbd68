"""Zero-code tracing: the stock SDK configurator with ``OTEL_TRACES_EXPORTER=ashr`` (F03, F04, F19).

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

import pytest

from tests.observability.conftest import CANARY_KEY, exit_after_return
from tests.support.scripted_backend import blackhole, closed_port

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


def zero_code_env(env_extra: dict[str, str]) -> dict[str, str]:
    """This environment without Ashr/OTel settings, plus ``OTEL_TRACES_EXPORTER=ashr``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASHR_LABS_", "OTEL_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        OTEL_TRACES_EXPORTER="ashr",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="50",
        **env_extra,
    )
    return env


def run_app(env_extra: dict[str, str], count: int, tag: str) -> subprocess.CompletedProcess[str]:
    env = zero_code_env(env_extra)
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


EXIT_APP = """
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from ashr_labs import AshrSpanExporter, TracingOptions
options = TracingOptions(flush_timeout_s=1.0, export_timeout_s=0.5)
_OTelSDKConfigurator().configure(exporter_args_map={{AshrSpanExporter: {{"options": options}}}})
from opentelemetry import trace
tracer = trace.get_tracer("app")
for i in range({count}):
    with tracer.start_as_current_span(f"request-{{i}}"):
        with tracer.start_as_current_span("chat m") as llm:
            llm.set_attribute("gen_ai.request.model", "m")
print("returning", flush=True)
"""


@pytest.mark.timing
@pytest.mark.parametrize("target", ["blackhole", "closed"])
def test_f04_zero_code_exit_with_the_backend_down_is_bounded_with_one_loss_line(
    target: str,
) -> None:
    """The configurator's exporter, budget 1 s, 12 traces: exit within slack, one stderr line
    counting all 12, no traceback (as in code mode)."""
    with blackhole() as hole:
        url = hole.url if target == "blackhole" else f"http://127.0.0.1:{closed_port()}"
        env = zero_code_env({"ASHR_LABS_API_KEY": CANARY_KEY, "ASHR_LABS_BASE_URL": url})
        code, stderr, elapsed = exit_after_return(EXIT_APP.format(count=12), env)
    assert code == 0, stderr
    assert elapsed < 1.0 * 1.5 + 0.5 + 0.5, elapsed  # budget + slack + interpreter teardown
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ashr_labs: 12 trace(s) not delivered at exit ("), stderr
    assert CANARY_KEY not in stderr

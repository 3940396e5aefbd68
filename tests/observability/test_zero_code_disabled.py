"""Zero-code tracing honours ``ASHR_LABS_TRACING_ENABLED=0`` as the client does (F20).

The README's configuration table says ``0`` turns every tracing call into a no-op; under
``OTEL_TRACES_EXPORTER=ashr`` the exporter is built from the environment, so it must read the
same switch and send nothing, opening no socket, with a good key and URL set.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ashr_labs import AshrSpanExporter
from tests.observability.conftest import CANARY_KEY
from tests.observability.test_zero_code import zero_code_env
from tests.support.scripted_backend import ScriptedBackend


@pytest.mark.parametrize("value", ["0", "false"])
def test_f20_zero_code_exporter_is_off_when_tracing_is_disabled(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A good key and URL, tracing disabled: one log line, and an LLM trace reaches nobody."""
    with ScriptedBackend() as backend:
        monkeypatch.setenv("ASHR_LABS_API_KEY", CANARY_KEY)
        monkeypatch.setenv("ASHR_LABS_BASE_URL", backend.url)
        monkeypatch.setenv("ASHR_LABS_TRACING_ENABLED", value)
        with caplog.at_level(logging.INFO, logger="ashr_labs"):
            exporter = AshrSpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span("handler"):
            with tracer.start_as_current_span("chat") as llm:
                llm.set_attribute("gen_ai.request.model", "m")
        provider.shutdown()
        assert backend.count() == 0
    lines = [r.getMessage() for r in caplog.records if "tracing is off" in r.getMessage()]
    assert len(lines) == 1 and "disabled by settings" in lines[0]
    assert CANARY_KEY not in caplog.text


APP = """
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
_OTelSDKConfigurator().configure()
from opentelemetry import trace
tracer = trace.get_tracer("app")
with tracer.start_as_current_span("request-{tag}"):
    with tracer.start_as_current_span("chat m") as llm:
        llm.set_attribute("gen_ai.request.model", "m")
print("app done", flush=True)
"""


@pytest.mark.parametrize("disabled", [False, True])
def test_f20_zero_code_app_with_tracing_disabled_sends_nothing(
    disabled: bool, local_server: Any, client: Any
) -> None:
    """The SDK configurator in a child, key and URL of a real server: the LLM trace arrives,
    unless tracing is disabled (the enabled case shows the check can see it)."""
    tag = uuid.uuid4().hex
    extra = {"ASHR_LABS_API_KEY": local_server.api_key, "ASHR_LABS_BASE_URL": local_server.url}
    if disabled:
        extra["ASHR_LABS_TRACING_ENABLED"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", APP.format(tag=tag)],
        capture_output=True,
        text=True,
        timeout=60,
        env=zero_code_env(extra),
    )
    assert done.returncode == 0, done.stderr
    assert "app done" in done.stdout and "Traceback" not in done.stderr
    assert "not delivered" not in done.stderr
    # The child has exited, so its exit flush is over: whatever it would send has been sent.
    names = {t["name"] for t in client.list_observability_traces(limit=100)["traces"]}
    assert (f"request-{tag}" in names) is not disabled

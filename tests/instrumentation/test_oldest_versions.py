"""The oldest library versions we declare (openai 1.40, anthropic 0.34) are instrumented too.

The child runs in a venv where those versions import: ``ASHR_COMPAT_PYTHON`` when set, else
one the test builds once under ``build/`` (``pip install openai==1.40.0 anthropic==0.34.0
httpx==0.27.2 distro``, plus a ``.pth`` file adding this interpreter's site-packages, ``src``,
``instrumentation`` and the repo root behind the old libraries).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

COMPAT_PYTHON = os.environ.get("ASHR_COMPAT_PYTHON")
ROOT = Path(__file__).resolve().parents[2]
OLD_PINS = ("openai==1.40.0", "anthropic==0.34.0", "httpx==0.27.2", "distro")
COMPAT_VENV = ROOT / "build" / "compat-oldest"


def _compat_python() -> str:
    """``ASHR_COMPAT_PYTHON``, or a venv with the oldest declared versions, built once."""
    if COMPAT_PYTHON:
        return COMPAT_PYTHON
    python = COMPAT_VENV / "bin" / "python"
    ready = COMPAT_VENV / ".ready"
    if ready.exists():
        return str(python)
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(COMPAT_VENV)], check=True, timeout=120
    )
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, *OLD_PINS], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"could not install {' '.join(OLD_PINS)}: {done.stderr[-1500:]}")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    ours = [sysconfig.get_paths()["purelib"], ROOT / "src", ROOT / "instrumentation", ROOT]
    (Path(site) / "ashr_compat.pth").write_text("".join(f"{path}\n" for path in ours))
    ready.touch()
    return str(python)


CHILD = """
import json
import anthropic, openai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ashr_labs import _safety
from ashr_labs_instrumentation import instrument_all
from tests.support.fake_llm import FakeLLM

_safety.set_strict(True)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
instrument_all(tracer_provider=provider)
m = [{"role": "user", "content": "hi"}]
with FakeLLM() as fake:
    c = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    c.chat.completions.create(model="gpt", messages=m)
    list(c.chat.completions.create(model="gpt", messages=m, stream=True))
    c.embeddings.create(model="e", input="x")
    a = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    a.messages.create(model="c", max_tokens=9, messages=m)
    with a.messages.stream(model="c", max_tokens=9, messages=m) as s:
        "".join(s.text_stream)
    list(a.messages.create(model="c", max_tokens=9, messages=m, stream=True))
print(json.dumps({
    "versions": [openai.__version__, anthropic.__version__],
    "outputs": [s.attributes.get("ashr.observation.output") for s in exporter.get_finished_spans()],
}))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_oldest_versions_are_traced() -> None:
    """Chat (plain, streamed), embeddings and messages (plain, helper, streamed) all traced."""
    done = subprocess.run(
        [_compat_python(), "-c", textwrap.dedent(CHILD)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not instrumented" not in done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["versions"] == ["1.40.0", "0.34.0"]
    outputs = result["outputs"]
    assert len(outputs) == 6 and all(outputs), outputs

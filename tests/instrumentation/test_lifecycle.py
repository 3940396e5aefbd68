"""``instrument()``/``uninstrument()`` are idempotent and exact, and each API call is one
generation on every path (F32); a missing library, a missing method or a version conflict costs
only what is missing (F34)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import openai
import pytest
import wrapt
from ashr_labs_instrumentation import instrument_all, uninstrument_all
from ashr_labs_instrumentation._call import GenerationConfig
from ashr_labs_instrumentation._instrumentor import resolve_options
from ashr_labs_instrumentation._patch import Patcher, WrapTarget
from ashr_labs_instrumentation.anthropic import AnthropicInstrumentor
from ashr_labs_instrumentation.openai import OpenAIInstrumentor
from ashr_labs_instrumentation.openai import _targets as openai_targets
from ashr_labs_instrumentation.openai._wrappers import make_wrapper
from openai.resources.chat.completions.completions import Completions
from openai.resources.embeddings import Embeddings

from tests.support.fake_llm import FakeLLM

from .conftest import Spans

MESSAGES = [{"role": "user", "content": "hi"}]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _originals(targets: tuple[WrapTarget, ...]) -> dict[tuple[str, str], Any]:
    """``(class, method, original)`` for each target this library version has."""
    import importlib

    out = {}
    for t in targets:
        cls_name, _, method = t.name.partition(".")
        for module in (t.module, *t.fallbacks):
            try:
                owner = getattr(importlib.import_module(module), cls_name)
                out[(t.module, t.name)] = (owner, method, owner.__dict__[method])
                break
            except (ImportError, AttributeError, KeyError):
                continue
    return out


class SubCompletions(Completions):
    """A subclass whose own ``create`` calls the patched base method."""

    def create(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().create(*args, **kwargs)


def test_f32_twice_raw_subclass_then_uninstrument(oai: Any, spans: Spans) -> None:
    """Instrument twice, call through three paths: one generation each; then exact restore."""
    before = _originals(openai_targets.TARGETS)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    instrumentor.instrument(tracer_provider=spans.provider)
    sub_patch = Patcher("openai")
    config = GenerationConfig("openai", resolve_options())
    tracer = spans.provider.get_tracer("ashr_labs.test")
    sub_patch.apply(
        (WrapTarget(__name__, "SubCompletions.create", "chat"),),
        lambda target: make_wrapper(target, tracer, config),
    )
    try:
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert len(spans.generations()) == 1
        oai.chat.completions.with_raw_response.create(model="gpt-test", messages=MESSAGES).parse()
        assert len(spans.generations()) == 2
        SubCompletions(oai).create(model="gpt-test", messages=MESSAGES)
        assert len(spans.generations()) == 3
    finally:
        sub_patch.restore()
        instrumentor.uninstrument()
    for owner, method, original in before.values():
        assert owner.__dict__[method] is original
    assert SubCompletions.__dict__["create"].__name__ == "create"
    instrumentor.uninstrument()
    oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
    oai.embeddings.create(model="e", input="x")
    assert len(spans.generations()) == 3


def test_f32_instrument_all_and_back(spans: Spans) -> None:
    """``instrument_all()`` covers both libraries and ``uninstrument_all()`` restores both."""
    from ashr_labs_instrumentation.anthropic import _targets as anthropic_targets

    before = {**_originals(openai_targets.TARGETS), **_originals(anthropic_targets.TARGETS)}
    assert instrument_all(tracer_provider=spans.provider) == ["openai", "anthropic"]
    assert OpenAIInstrumentor().patched and AnthropicInstrumentor().patched
    uninstrument_all()
    for owner, method, original in before.values():
        assert owner.__dict__[method] is original


def test_f34_missing_method_skipped_others_work(
    oai: Any, spans: Spans, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A required method gone from the library: one warning, every other target patched."""
    expected = len(_originals(openai_targets.TARGETS)) - 1
    monkeypatch.delattr(Embeddings, "create")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        assert len(instrumentor.patched) == expected
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Embeddings.create" in warnings[0]
        oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert len(spans.generations()) == 1
    finally:
        instrumentor.uninstrument()


def test_f34_version_conflict(oai: Any, spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the installed version does not satisfy ``_instruments``, nothing is patched."""
    monkeypatch.setattr(OpenAIInstrumentor, "instruments", ("openai >= 999",))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        assert instrumentor.patched == []
        result = oai.chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert result.choices[0].message.content
        assert spans.generations() == []
    finally:
        instrumentor.uninstrument()


def _child(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


def test_f34_import_never_imports_the_libraries() -> None:
    """``import ashr_labs`` (and our instrumentation) leaves openai/anthropic unimported."""
    done = _child("""
        import sys
        import ashr_labs, ashr_labs_instrumentation
        import ashr_labs_instrumentation.openai, ashr_labs_instrumentation.anthropic
        ashr_labs_instrumentation.instrument_all()
        assert "openai" not in sys.modules and "anthropic" not in sys.modules, "imported"
        import openai
        from ashr_labs_instrumentation.openai import OpenAIInstrumentor
        assert OpenAIInstrumentor().patched, "post-import hook did not patch"
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_f34_libraries_absent() -> None:
    """With both libraries unimportable, importing and instrumenting still work quietly."""
    done = _child("""
        import sys
        sys.modules["openai"] = None
        sys.modules["anthropic"] = None
        import logging
        logging.basicConfig(level=logging.INFO)
        import ashr_labs
        from ashr_labs_instrumentation import instrument_all, uninstrument_all
        from ashr_labs_instrumentation.openai import OpenAIInstrumentor
        assert instrument_all() == []
        OpenAIInstrumentor().instrument()
        assert OpenAIInstrumentor().patched == []
        uninstrument_all()
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""  # nothing at INFO or above: a missing library is no event


def test_fake_is_reachable_after_uninstrument(fake: FakeLLM) -> None:
    """A plain client works after all the patching above (no leftover wrapper)."""
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
    assert client.chat.completions.create(model="m", messages=MESSAGES).id == "chatcmpl-fake1"
    assert not isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)

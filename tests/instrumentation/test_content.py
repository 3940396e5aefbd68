"""Content capture (F36): prompts, completions and tool arguments are on the spans by default,
absent with capture off (names, model, tokens and levels stay), passed through the mask hook,
and secret canaries (provider keys, bearer tokens, ``tp_`` keys) never appear either way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ashr_labs_instrumentation import instrument_all, uninstrument_all

from ashr_labs import _attributes as A
from tests.support.fake_llm import FakeLLM, Reply

from .conftest import Spans

PROMPT_CANARY = "prompt-canary-7f3a"
COMPLETION_CANARY = "completion-canary-91bd"
TOOL_CANARY = "tool-canary-c0de"
SECRETS = ("sk-live0123456789abcdefSECRET", "tp_canarykey123456", "Bearer abcdefgh12345678zz")
CONTENT = (PROMPT_CANARY, COMPLETION_CANARY, TOOL_CANARY)


def _program(oai: Any, claude: Any, fake: FakeLLM) -> None:
    messages = [{"role": "user", "content": f"{PROMPT_CANARY} my key is {SECRETS[0]}"}]
    reply = Reply(
        text=f"{COMPLETION_CANARY} {SECRETS[2]}",
        tool_calls=[("lookup", {"q": TOOL_CANARY, "api_key": SECRETS[1]})],
    )
    fake.script(reply, reply, reply, Reply(status=500, error_message=f"bad key {SECRETS[1]}"))
    keyed = oai.with_options(api_key=SECRETS[0])  # the key travels in a request header
    keyed.chat.completions.create(
        model="gpt-test", messages=messages, extra_headers={"x-api-key": SECRETS[1]}
    )
    list(oai.chat.completions.create(model="gpt-test", messages=messages, stream=True))
    claude.messages.create(model="claude-test", max_tokens=9, system=SECRETS[2], messages=messages)
    with pytest.raises(Exception, match="bad key"):
        oai.chat.completions.create(model="gpt-test", messages=messages)


def _exported_text(spans: Spans) -> str:
    parts = []
    for span in spans.finished():
        parts.append(span.name)
        parts.append(json.dumps(dict(span.attributes or {}), default=str))
        parts.append(str(span.status.description))
        parts.extend(json.dumps(dict(e.attributes or {}), default=str) for e in span.events)
    return "\n".join(parts)


def _run(spans: Spans, oai: Any, claude: Any, fake: FakeLLM, **kwargs: Any) -> str:
    instrument_all(tracer_provider=spans.provider, **kwargs)
    try:
        _program(oai, claude, fake)
    finally:
        uninstrument_all()
    assert len(spans.generations()) == 4
    return _exported_text(spans)


def test_f36_content_by_default_secrets_never(
    spans: Spans, oai: Any, claude: Any, fake: FakeLLM
) -> None:
    """Default: every content canary is exported; no secret canary is."""
    text = _run(spans, oai, claude, fake)
    for canary in CONTENT:
        assert canary in text
    for secret in SECRETS:
        assert secret not in text
    assert "[REDACTED]" in text


def test_f36_capture_off(spans: Spans, oai: Any, claude: Any, fake: FakeLLM) -> None:
    """Capture off: no content at all, while model, tokens, timings and levels remain."""
    text = _run(spans, oai, claude, fake, capture_content=False)
    for canary in (*CONTENT, *SECRETS):
        assert canary not in text
    first = spans.generations()[0].attributes
    assert A.ASHR_INPUT not in first and A.ASHR_OUTPUT not in first
    assert first[A.ASHR_MODEL] == "gpt-test"
    assert first[A.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert spans.generations()[-1].attributes[A.ASHR_LEVEL] == "ERROR"


def test_f36_capture_off_from_env(
    spans: Spans, oai: Any, claude: Any, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ASHR_LABS_CAPTURE_CONTENT=0`` turns capture off when no argument is given."""
    monkeypatch.setenv("ASHR_LABS_CAPTURE_CONTENT", "0")
    text = _run(spans, oai, claude, fake)
    for canary in CONTENT:
        assert canary not in text


def test_f36_mask_hook(spans: Spans, oai: Any, claude: Any, fake: FakeLLM) -> None:
    """The mask runs on every value; a raising mask gives a placeholder, never the raw value."""
    calls: list[Any] = []

    def mask(value: Any) -> Any:
        calls.append(value)
        if isinstance(value, dict) and value.get("role") == "assistant":
            raise ValueError("mask broke")
        return "<masked>"

    text = _run(spans, oai, claude, fake, mask=mask)
    assert calls
    for canary in (*CONTENT, *SECRETS):
        assert canary not in text
    assert "<masked>" in text and "mask raised" in text

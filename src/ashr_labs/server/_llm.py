"""A small client for an OpenAI-compatible chat endpoint, used by dataset generation and by the
grader's optional LLM judge.

Configured by ``ASHR_LABS_LLM_BASE_URL`` (e.g. ``https://api.openai.com/v1``; the client POSTs
to ``{base}/chat/completions``), ``ASHR_LABS_LLM_API_KEY`` (sent as a Bearer token when set) and
``ASHR_LABS_LLM_MODEL`` (default ``gpt-4o-mini``). Requests ask for a JSON object
(``response_format: {"type": "json_object"}``) at temperature 0. Every failure (network, HTTP
status, a reply that is not a JSON object) raises ``LlmError`` with a readable message that
never contains the key.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import requests

from .._settings import ASHR_LABS_LLM_API_KEY, ASHR_LABS_LLM_BASE_URL, ASHR_LABS_LLM_MODEL

__all__ = ["DEFAULT_MODEL", "LlmClient", "LlmError"]

DEFAULT_MODEL = "gpt-4o-mini"

_JUDGE_PROMPT = (
    "You grade an AI agent's reply against the reply a test expected. Score how well the "
    "actual reply conveys the same facts and intent as the expected one, from 0.0 (unrelated "
    "or contradictory) to 1.0 (same meaning; wording may differ). Answer with a JSON object "
    '{"score": <number 0..1>, "reason": "<one sentence>"}.'
)


class LlmError(Exception):
    """The model endpoint failed or answered with something unusable."""


class LlmClient:
    """Calls ``POST {base_url}/chat/completions`` and returns parsed JSON objects."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = 120.0,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"LlmClient(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LlmClient | None:
        """A client from the ``ASHR_LABS_LLM_*`` variables, or None when no base URL is set."""
        env = os.environ if environ is None else environ
        base = env.get(ASHR_LABS_LLM_BASE_URL, "").strip()
        if not base:
            return None
        key = env.get(ASHR_LABS_LLM_API_KEY, "").strip() or None
        model = env.get(ASHR_LABS_LLM_MODEL, "").strip() or DEFAULT_MODEL
        return cls(base, api_key=key, model=model)

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._session.close()

    def complete_json(self, system: str, user: str, *, seed: int | None = None) -> dict[str, Any]:
        """Send one system + user exchange and return the reply parsed as a JSON object."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        if seed is not None:
            body["seed"] = seed
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        url = f"{self.base_url}/chat/completions"
        try:
            response = self._session.post(url, json=body, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise LlmError(f"LLM request to {url} failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise LlmError(
                f"LLM endpoint {url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        return _reply_object(response)

    def judge_similarity(self, expected: str, actual: str) -> float:
        """The model's 0–1 score of how well ``actual`` conveys ``expected`` (2 decimals)."""
        answer = self.complete_json(
            _JUDGE_PROMPT, json.dumps({"expected": expected, "actual": actual}), seed=0
        )
        score = answer.get("score")
        if (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not math.isfinite(score)
            or not 0 <= score <= 1
        ):
            raise LlmError(f"LLM judge score: expected a number 0..1, got {json.dumps(score)}")
        return round(float(score), 2)


def _reply_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError(
            "LLM reply: expected choices[0].message.content in a chat completion, got "
            f"{response.text[:200]!r}"
        ) from exc
    if not isinstance(content, str):
        raise LlmError(f"LLM reply content: expected a string, got {type(content).__name__}")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise LlmError(f"LLM reply content: expected a JSON object, got {text[:200]!r}") from exc
    if not isinstance(parsed, dict):
        raise LlmError(f"LLM reply content: expected a JSON object, got {type(parsed).__name__}")
    return parsed

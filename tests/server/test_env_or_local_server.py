"""``env_or_local_server`` picks the configured server when both variables are set, else starts
a throwaway local one for the block."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ashr_labs.server import env_or_local_server


def test_uses_the_environment_when_both_variables_are_set(
    local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASHR_LABS_BASE_URL", local_server.url)
    monkeypatch.setenv("ASHR_LABS_API_KEY", local_server.api_key)
    with env_or_local_server() as (base_url, api_key):
        assert (base_url, api_key) == (local_server.url, local_server.api_key)


def test_starts_and_stops_a_local_server_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASHR_LABS_API_KEY", "tp_only_the_key")
    with env_or_local_server() as (base_url, api_key):
        assert base_url.startswith("http://127.0.0.1:") and api_key.startswith("tp_")
        reply = requests.post(
            base_url,
            json={"function": "keep_alive"},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=5,
        )
        assert reply.status_code == 200 and reply.json()["status"] == "ok"
    with pytest.raises(requests.ConnectionError):
        requests.post(base_url, json={"function": "keep_alive"}, timeout=5)

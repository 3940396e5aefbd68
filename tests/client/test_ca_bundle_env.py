"""``ASHR_LABS_CA_BUNDLE`` from the environment (F38): empty means unset, and a missing file is
named by the variable the user set, not by the constructor argument they never wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashr_labs import AshrLabsClient, ConfigurationError

CANARY = "tp_canaryKEY0123456789abcdef"


def test_f38_empty_ca_bundle_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """ASHR_LABS_CA_BUNDLE= (exported empty) builds a client that verifies with the defaults."""
    monkeypatch.setenv("ASHR_LABS_CA_BUNDLE", "")
    monkeypatch.setenv("ASHR_LABS_API_KEY", CANARY)
    monkeypatch.setenv("ASHR_LABS_BASE_URL", "https://127.0.0.1:1")
    with AshrLabsClient.from_env() as client:
        assert client._transport._verify is True


def test_f38_missing_ca_bundle_file_from_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope.pem")
    monkeypatch.setenv("ASHR_LABS_CA_BUNDLE", missing)
    with pytest.raises(ConfigurationError, match="^ASHR_LABS_CA_BUNDLE: no such file") as caught:
        AshrLabsClient(CANARY, "https://127.0.0.1:1")
    assert missing in str(caught.value)


def test_f38_explicit_empty_ca_bundle_argument_is_still_refused() -> None:
    """The argument is not the environment: ca_bundle="" is a path that does not exist."""
    with pytest.raises(ConfigurationError, match="^ca_bundle: no such file"):
        AshrLabsClient(CANARY, "https://127.0.0.1:1", ca_bundle="")

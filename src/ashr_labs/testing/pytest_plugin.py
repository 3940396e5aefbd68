"""pytest fixtures for evaluating agents in a test suite, against a local or the hosted server.

Enable it in a ``conftest.py`` (``pytest_plugins = ["ashr_labs.testing.pytest_plugin"]``) or on
the command line (``pytest -p ashr_labs.testing.pytest_plugin``). It is opt-in so that installing
``ashr-labs`` adds nothing to other projects' test runs.

Fixtures:
    ashr_server: a ``LocalServer`` for the whole session (127.0.0.1, temporary SQLite database).
    ashr_client: an ``AshrLabsClient`` per test: from ``ASHR_LABS_API_KEY`` /
        ``ASHR_LABS_BASE_URL`` when the key is set (evals against the hosted service in CI),
        otherwise bound to ``ashr_server``. Closed, and its traces flushed, after the test.

Example::

    def test_support_agent(ashr_client):
        dataset_id, source = ashr_client.generate_dataset("support", CONFIG)
        run = EvalRunner(source).run(MyAgent())
        graded = ashr_client.poll_run(run.deploy(ashr_client, dataset_id=dataset_id)["id"])
        assert graded["result"]["aggregate_metrics"]["tests_passed"] >= 8
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .._settings import ASHR_LABS_API_KEY

if TYPE_CHECKING:
    from .._client import AshrLabsClient
    from ..server import LocalServer

__all__ = ["ashr_client", "ashr_server"]


@pytest.fixture(scope="session")
def ashr_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A local Ashr server shared by the session's tests."""
    from ..server import LocalServer

    with LocalServer(data_dir=tmp_path_factory.mktemp("ashr-server")) as server:
        yield server


@pytest.fixture
def ashr_client(request: pytest.FixtureRequest) -> Iterator[AshrLabsClient]:
    """A client on the hosted API when ``ASHR_LABS_API_KEY`` is set, else on ``ashr_server``."""
    from .._client import AshrLabsClient

    if os.environ.get(ASHR_LABS_API_KEY):
        client = AshrLabsClient.from_env()
    else:
        server: LocalServer = request.getfixturevalue("ashr_server")
        client = AshrLabsClient(api_key=server.api_key, base_url=server.url)
    with client:
        yield client

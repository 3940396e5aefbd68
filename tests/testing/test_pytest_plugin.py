"""The opt-in pytest plugin gives user suites a local server and a client, and works end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TEST = """
from ashr_labs import EvalRunner

CONFIG = {
    "agent": {"name": "Echo", "description": "Repeats what it hears",
              "accepted_inputs": {"text": True}},
    "context": {"domain": "other", "use_case": "Echo every message back"},
    "test_config": {"num_variations": 2},
    "generation_options": {"generate_audio": False},
}

class Echo:
    def respond(self, message):
        return {"text": message, "tool_calls": []}
    def reset(self):
        pass

def test_eval_through_the_fixtures(ashr_client, ashr_server):
    assert ashr_client.base_url == ashr_server.url
    dataset_id, source = ashr_client.generate_dataset("echo", CONFIG, timeout=60, poll_interval=1)
    created = EvalRunner(source).run(Echo()).deploy(ashr_client, dataset_id=dataset_id)
    graded = ashr_client.poll_run(created["id"], timeout=60, poll_interval=1)
    assert graded["result"]["aggregate_metrics"]["total_tests"] == 2

def test_the_server_is_shared(ashr_server, ashr_client):
    assert ashr_client.health_check()["status"] == "ok"
"""


def run_user_suite(folder: Path, source: str, *plugins: str) -> subprocess.CompletedProcess[str]:
    """Write ``source`` as a user's test file and run pytest on it in a child process."""
    (folder / "test_user.py").write_text(source)
    options = [arg for plugin in (*plugins, "no:cacheprovider") for arg in ("-p", plugin)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options, str(folder / "test_user.py")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_fixtures_in_a_user_suite(tmp_path: Path) -> None:
    """A user's suite enabling the plugin gets a working server and client in a child pytest."""
    done = run_user_suite(tmp_path, USER_TEST, "ashr_labs.testing.pytest_plugin")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout


def test_plugin_is_opt_in(tmp_path: Path) -> None:
    """Without ``-p`` the fixtures do not exist: installing the SDK changes no other suite."""
    done = run_user_suite(tmp_path, "def test_x(ashr_client):\n    pass\n")
    assert done.returncode != 0
    assert "fixture 'ashr_client' not found" in done.stdout

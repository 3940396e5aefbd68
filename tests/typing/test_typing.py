"""Type checks in the suite: the public API as users write it, and the Python 3.10 claim.

One ``mypy --strict`` run, against Python 3.10 (our ``requires-python`` floor), covers
``src/``, ``instrumentation/`` and ``check_api.py``: typeshed marks what 3.11 added
(``typing.Self``, ``ExceptionGroup``, ``datetime.UTC``, ``tomllib``...), so using it fails here.
Missing modules are errors (``tomllib`` on 3.10); installed libraries without type information are
read as ``Any``, as the project's ``ignore_missing_imports`` does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK_API = Path(__file__).with_name("check_api.py")
SOURCES = [ROOT / "src" / "ashr_labs", ROOT / "instrumentation" / "ashr_labs_instrumentation"]
FLOOR = "3.10"
CONFIG = f"""\
[mypy]
strict = True
python_version = {FLOOR}
disable_error_code = import-untyped
"""
MYPY_TIMEOUT_S = 300

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * MYPY_TIMEOUT_S)]


class MypyRun:
    """mypy over given paths with the config above and a cache shared by this module's runs."""

    def __init__(self, workdir: Path) -> None:
        self.config = workdir / "mypy.ini"
        self.config.write_text(CONFIG)
        self.cache = workdir / "cache"

    def __call__(self, *paths: Path) -> tuple[int, list[str]]:
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(self.config)]
            + ["--cache-dir", str(self.cache), "--no-error-summary", "--show-error-codes"]
            + [str(p) for p in paths],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=MYPY_TIMEOUT_S,
        )
        assert done.returncode in (0, 1), f"mypy crashed:\n{done.stdout}\n{done.stderr}"
        return done.returncode, [line for line in done.stdout.splitlines() if ": error:" in line]


@pytest.fixture(scope="module")
def mypy(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    return MypyRun(tmp_path_factory.mktemp("mypy"))


@pytest.fixture(scope="module")
def errors(mypy: MypyRun) -> list[str]:
    """The errors of one run over the sources and the API smoke file."""
    _code, found = mypy(*SOURCES, CHECK_API)
    elsewhere = [e for e in found if not any(_in([e], path) for path in (*SOURCES, CHECK_API))]
    assert elsewhere == [], "errors outside the checked paths (or paths printed differently)"
    return found


def _in(errors: list[str], path: Path) -> list[str]:
    prefix = path.relative_to(ROOT).as_posix()
    return [e for e in errors if e.startswith(prefix)]


def test_public_api_as_users_write_it_type_checks(errors: list[str]) -> None:
    """check_api.py passes mypy --strict: documented return types hold, misuse is still caught."""
    assert _in(errors, CHECK_API) == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_sources_type_check_against_python_310(errors: list[str], source: Path) -> None:
    """Both packages pass mypy --strict for Python 3.10: nothing needs 3.11 (requires-python)."""
    assert _in(errors, source) == []


def test_the_check_catches_a_wrong_return_type_and_a_311_only_import(
    mypy: MypyRun, tmp_path: Path
) -> None:
    """A wrong assert_type on a client method and a 3.10-missing stdlib module both fail."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from __future__ import annotations\n"
        "import tomllib\n"
        "from typing_extensions import assert_type\n"
        "from ashr_labs import AshrLabsClient, Dataset\n"
        "def f(client: AshrLabsClient) -> None:\n"
        "    assert_type(client.get_run(1), Dataset)\n"
    )
    code, found = mypy(probe)
    assert code == 1
    assert any(re.search(r":2: error: .*tomllib.*\[import-not-found\]", e) for e in found), found
    assert any(":6: error:" in e and "[assert-type]" in e for e in found), found

"""The distributions users install: sdist, wheel and editable install, each in a fresh venv.

The wheel (built from the sdist, as a release is) must hold both import packages with their
``py.typed`` markers and every entry point (DESIGN.md section 1, STYLE.md section 8). Installed
with its dependencies from the package index into a new venv, where neither ``openai`` nor
``anthropic`` is present, it imports, runs the ``ashr-labs`` console script, serves the local
server and answers a traced client from that same venv. The wheel venv is made three ways: on
this interpreter, on the ``requires-python`` floor's interpreter (when the machine has one), and
with every dependency at its declared floor. Slow (four venvs): each venv is a module fixture.
"""

from __future__ import annotations

import configparser
import email.message
import email.parser
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "ashr_labs": ROOT / "src" / "ashr_labs",
    "ashr_labs_instrumentation": ROOT / "instrumentation" / "ashr_labs_instrumentation",
}
ENTRY_POINTS = {
    "console_scripts": {"ashr-labs": "ashr_labs.cli:main"},
    "opentelemetry_traces_exporter": {"ashr": "ashr_labs.observability._exporter:AshrSpanExporter"},
    "opentelemetry_instrumentor": {
        "ashr_openai": "ashr_labs_instrumentation.openai:OpenAIInstrumentor",
        "ashr_anthropic": "ashr_labs_instrumentation.anthropic:AnthropicInstrumentor",
    },
    "opentelemetry_configurator": {
        "ashr": "ashr_labs_instrumentation._configurator:AshrConfigurator"
    },
}
KEY_RE = re.compile(r"\btp_[A-Za-z0-9_-]+")
# Installs reach the package index; pip's cache makes the second and later ones fast.
INSTALL_TIMEOUT_S = 600
# Taken at import, before the clean_env fixture strips proxy variables pip may need.
_MACHINE_ENV = dict(os.environ)
_NOT_INHERITED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def _requires_python_floor() -> str:
    """``3.X`` from ``requires-python = ">=3.X"`` (a regex: ``tomllib`` is 3.11+)."""
    found = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert found is not None, 'pyproject.toml: expected requires-python = ">=3.X"'
    return found.group(1)


FLOOR_TEXT = _requires_python_floor()
FLOOR = tuple(int(part) for part in FLOOR_TEXT.split("."))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * INSTALL_TIMEOUT_S + 120)]


def _floor_interpreter() -> str | None:
    """A working ``python3.X`` for the ``requires-python`` floor: ``$ASHR_FLOOR_PYTHON``, then
    the PATH, then pyenv's versions folder (pyenv's shims refuse versions not selected)."""
    pyenv = Path(_MACHINE_ENV.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        _MACHINE_ENV.get("ASHR_FLOOR_PYTHON"),
        shutil.which(f"python{FLOOR_TEXT}"),
        *sorted(str(p) for p in pyenv.glob(f"versions/{FLOOR_TEXT}.*/bin/python{FLOOR_TEXT}")),
    ]
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys, venv; print(*sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if done.returncode == 0 and tuple(map(int, done.stdout.split())) == FLOOR:
            return candidate
    return None


# Run inside a venv: import both packages, load our entry points, report where things live.
IMPORT_CHECK = """
import importlib.util, json, sys
from importlib.metadata import entry_points
import ashr_labs, ashr_labs_instrumentation
loaded = {}
for group in sys.argv[1:]:
    for ep in entry_points(group=group):
        if ep.dist is not None and ep.dist.name == "ashr-labs":
            ep.load()
            loaded.setdefault(group, {})[ep.name] = ep.value
print(json.dumps({
    "files": [ashr_labs.__file__, ashr_labs_instrumentation.__file__],
    "version": ashr_labs.__version__,
    "entry_points": loaded,
    "llm_imported": [m for m in ("openai", "anthropic") if m in sys.modules],
    "llm_installed": [m for m in ("openai", "anthropic") if importlib.util.find_spec(m)],
    "instrumented": ashr_labs.instrument(),
}))
"""

# Run inside the wheel's venv against the server that venv's console script started.
CLIENT_CHECK = """
import json, sys
from ashr_labs import AshrLabsClient
url, key = sys.argv[1:3]
with AshrLabsClient(api_key=key, base_url=url) as client:
    health = client.health_check()
    tenant = client.init()["tenant"]["id"]
    trace = client.trace("packaging-smoke", user_id="u1")
    trace.span("step", input={"q": 1}).end(output={"a": 2})
    ended = trace.end(output={"ok": True}, flush=True)
    stored = client.get_observability_trace(trace.trace_id)["trace"]
print(json.dumps({
    "health": health["status"],
    "tenant": tenant,
    "ended": ended["status"],
    "observations": [o["name"] for o in stored["observations"]],
}))
"""


def _env(base: dict[str, str]) -> dict[str, str]:
    """``base`` without variables that would point a child at this repo or this venv."""
    return {k: v for k, v in base.items() if k not in _NOT_INHERITED}


def _completed(
    cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env if env is not None else _env(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _run(cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; return its stdout, or fail the test with the tail of both streams."""
    return _stdout(_completed(cmd, cwd=cwd, timeout=timeout, env=env))


def _stdout(done: subprocess.CompletedProcess[str]) -> str:
    cmd = [str(arg) for arg in done.args]
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited {done.returncode}\n"
        f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}"
    )
    return done.stdout


def _fresh_venv(where: Path, *pip_args: str, base: str = sys.executable) -> Path:
    """A new venv of ``base`` at ``where`` after ``pip install <pip_args>`` (with dependencies)."""
    _run([base, "-m", "venv", str(where)], cwd=where.parent, timeout=120)
    python = where / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pip_args],
        cwd=where.parent,
        timeout=INSTALL_TIMEOUT_S,
        env=_env(_MACHINE_ENV),
    )
    return python


def _import_check(python: Path, cwd: Path) -> dict[str, Any]:
    """IMPORT_CHECK's report."""
    done = _completed([str(python), "-c", IMPORT_CHECK, *ENTRY_POINTS], cwd=cwd, timeout=60)
    result: dict[str, Any] = json.loads(_stdout(done).splitlines()[-1])
    return result


def _cli_help(python: Path, cwd: Path) -> str:
    return _run([str(python.parent / "ashr-labs"), "--help"], cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``python -m build`` makes from this checkout: an sdist, then a wheel built from it
    (the way a release is built, so the sdist must carry everything the wheel needs)."""
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        cwd=out,
        timeout=INSTALL_TIMEOUT_S,
        env=_env(_MACHINE_ENV),
    )
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("ashr_labs-*-py3-none-any.whl")
    return built


def test_sdist_carries_sources_tests_and_docs(dist: Path) -> None:
    """The sdist has the build config, README, both packages, the tests and the examples."""
    (sdist,) = dist.glob("ashr_labs-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for required in (
        "pyproject.toml",
        "README.md",
        "src/ashr_labs/__init__.py",
        "src/ashr_labs/py.typed",
        "instrumentation/ashr_labs_instrumentation/__init__.py",
        "instrumentation/ashr_labs_instrumentation/py.typed",
        "tests/conftest.py",
        "tests/typing/check_api.py",
        "examples/quickstart.py",
    ):
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite3"))]


@pytest.fixture(scope="module", params=["current", "floor", "lowest-deps"])
def wheel_python(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Path:
    """A fresh venv holding the wheel and its dependencies, nothing else: on this interpreter;
    on the oldest Python we claim (``requires-python``) when the machine has it; and on this
    interpreter with every dependency at the lowest version we declare (``>=X`` installed as
    ``==X``), which is what a user with older pins gets."""
    base = sys.executable
    pins: list[str] = []
    if request.param == "lowest-deps":
        pins = _lowest_pins(wheel)
    elif request.param == "floor":
        if sys.version_info[:2] == FLOOR:
            pytest.skip("the suite itself runs on the oldest Python we claim")
        found = _floor_interpreter()
        if found is None:
            pytest.skip(f"no Python {FLOOR_TEXT} interpreter here (set ASHR_FLOOR_PYTHON)")
        base = found
    where = tmp_path_factory.mktemp(f"wheel-venv-{request.param}") / "venv"
    return _fresh_venv(where, str(wheel), *pins, base=base)


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv with ``pip install -e`` of this checkout."""
    return _fresh_venv(tmp_path_factory.mktemp("editable-venv") / "venv", "-e", str(ROOT))


def _read_wheel(
    wheel: Path,
) -> tuple[list[str], str, configparser.ConfigParser, email.message.Message]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.optionxform = str  # type: ignore[assignment,method-assign]
        entry_points.read_string(zf.read(f"{dist_info}/entry_points.txt").decode())
        metadata = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
    return names, dist_info, entry_points, metadata


def _lowest_pins(wheel: Path) -> list[str]:
    """``name==X`` for each unconditional ``Requires-Dist: name>=X`` of the wheel."""
    _names, _dist_info, _eps, metadata = _read_wheel(wheel)
    pins = []
    for requirement in metadata.get_all("Requires-Dist") or []:
        floor = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)", requirement.strip())
        if floor is not None:
            pins.append(f"{floor.group(1)}=={floor.group(2)}")
    assert pins, "no Requires-Dist with a >= floor in the wheel"
    return pins


def test_wheel_holds_both_packages_typed_with_every_entry_point(wheel: Path) -> None:
    """Every module of both packages, a py.typed in each, all four entry-point groups, no junk."""
    names, dist_info, entry_points, metadata = _read_wheel(wheel)
    for package, source in PACKAGES.items():
        assert f"{package}/py.typed" in names
        modules = {
            f"{package}/{path.relative_to(source).as_posix()}"
            for path in source.rglob("*.py")
            if "__pycache__" not in path.parts
        }
        missing = sorted(modules - set(names))
        assert not missing, f"modules left out of the wheel: {missing}"
    assert {n.split("/")[0] for n in names} == {*PACKAGES, dist_info}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite3"))]
    for group, expected in ENTRY_POINTS.items():
        assert dict(entry_points[group]) == expected, group
    version = re.search(
        r'__version__ = "([^"]+)"', (PACKAGES["ashr_labs"] / "_version.py").read_text()
    )
    assert version is not None and metadata["Version"] == version.group(1)
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    assert metadata["Requires-Python"] == f">={FLOOR_TEXT}"


def test_f34_wheel_venv_imports_both_packages_without_llm_libraries(
    wheel_python: Path, tmp_path: Path
) -> None:
    """From the wheel, no openai/anthropic: both import, entry points load, nothing patched."""
    result = _import_check(wheel_python, tmp_path)
    site_packages = str(wheel_python.parent.parent / "lib")
    assert all(f.startswith(site_packages) for f in result["files"]), result["files"]
    assert result["entry_points"] == ENTRY_POINTS
    assert result["llm_installed"] == [] and result["llm_imported"] == []
    assert result["instrumented"] == []


def test_wheel_console_script_help(wheel_python: Path, tmp_path: Path) -> None:
    """``ashr-labs --help`` from the wheel's venv lists its subcommands."""
    out = _cli_help(wheel_python, tmp_path)
    assert "usage: ashr-labs" in out
    assert all(cmd in out for cmd in ("serve", "keys", "notes"))


class _Served:
    """``ashr-labs serve`` in a subprocess; stdout lines arrive on a queue (reads never block)."""

    def __init__(self, program: Path, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [str(program), "serve", "--port", "0", "--data-dir", str(data_dir)],
            cwd=data_dir.parent,
            env=_env(dict(os.environ)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_url_and_key(self, timeout_s: float = 30.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"serve printed no URL and key in {timeout_s} s: {seen}")
            seen.append(line)
            key = KEY_RE.search(line)
            if key:
                return seen[0], key.group(0)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def close(self) -> None:
        """Kill the server if it still runs, and release its pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._pump_thread.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def served(wheel_python: Path, tmp_path: Path) -> Iterator[_Served]:
    server = _Served(wheel_python.parent / "ashr-labs", tmp_path / "data")
    try:
        yield server
    finally:
        server.close()


def test_wheel_serve_answers_a_client_from_the_same_venv(
    wheel_python: Path, served: _Served, tmp_path: Path
) -> None:
    """The installed server prints its URL and a key; the installed client traces into it."""
    url, key = served.read_url_and_key()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    out = _run([str(wheel_python), "-c", CLIENT_CHECK, url, key], cwd=tmp_path, timeout=60)
    result = json.loads(out.splitlines()[-1])
    assert result == {"health": "ok", "tenant": 1, "ended": "ok", "observations": ["step"]}
    assert served.stop() == 0


def test_editable_install_imports_the_checkout_and_runs_the_cli(
    editable_python: Path, tmp_path: Path
) -> None:
    """``pip install -e .`` in a fresh venv: both packages come from this checkout; CLI runs."""
    result = _import_check(editable_python, tmp_path)
    assert [Path(f).parent for f in result["files"]] == list(PACKAGES.values())
    assert set(result["entry_points"]) == set(ENTRY_POINTS)
    assert "serve" in _cli_help(editable_python, tmp_path)

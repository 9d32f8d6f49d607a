"""The ``runic.testing`` pytest plugin, run the way users run it: pytest in a subprocess on a
small project of test files (so each run has its own driver process and actor systems)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

USERFLOWS = '''
import os
SETTING = "real"

def read_setting(x):
    return f"{SETTING}:{os.environ.get('USER_SETTING', '')}"

def add_one(x):
    return x + 1
'''

MONKEYPATCHED = '''
import pytest
import runic
import userflows


def _run(runner):
    wf = runic.workflow("w", steps=[runic.step(userflows.read_setting)])
    runner.start_workflow("w", wf)
    runner.run("w", 1)
    assert runner.await_idle("w", timeout=60) == "idle"
    return runner.get_results("w", ["read_setting"])["read_setting"]


@pytest.mark.parametrize("value", ["mock-A", "mock-B", "mock-C"])
def test_each_test_sees_its_own_patch(runic_runner, monkeypatch, value):
    monkeypatch.setattr(userflows, "SETTING", value)
    monkeypatch.setenv("USER_SETTING", "env-" + value)
    assert _run(runic_runner) == f"{value}:env-{value}"


def test_actor_system_fixture_is_the_default_system(runic_actor_system, monkeypatch, tmp_path):
    from runic.actors import default_system
    from runic.runner import Runner
    from runic.store import MnesiaStore

    monkeypatch.setattr(userflows, "SETTING", "mock-D")
    assert not runic_actor_system.started
    with Runner.start_link(name="own", store=MnesiaStore, store_opts={"dir": str(tmp_path / "d")},
                           pool_size=1) as runner:
        assert runic_actor_system.started
        assert default_system() is runic_actor_system.handle
        assert _run(runner) == "mock-D:"


@pytest.mark.runic_runner(name="custom", pool_size=2)
def test_marker_options(runic_runner):
    hosts = [n for n in runic_runner.tree() if n["role"] == "host"]
    assert runic_runner.name == "custom" and len(hosts) == 2
'''

OPTIONS_FIXTURE = '''
import pytest
import runic
import userflows


@pytest.fixture
def runic_runner_options(tmp_path):
    return {"name": "from-fixture", "store_opts": {"dir": str(tmp_path / "elsewhere")}}


def test_options_fixture(runic_runner, tmp_path):
    wf = runic.workflow("w", steps=[runic.step(userflows.add_one)])
    runic_runner.start_workflow("w", wf, input=1)
    assert runic_runner.await_idle("w", timeout=60) == "idle"
    assert runic_runner.name == "from-fixture"
    assert (tmp_path / "elsewhere" / "runic.db").exists()
'''


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={project / 'tmp'}",
         "-W", "error::ResourceWarning", "-W", "error::pytest.PytestUnraisableExceptionWarning", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


def write_project(tmp_path: Path, **tests: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "userflows.py").write_text(textwrap.dedent(USERFLOWS))
    for name, text in tests.items():
        (project / f"{name}.py").write_text(textwrap.dedent(text))
    return project


def test_fixtures_give_each_test_its_own_system(tmp_path) -> None:
    project = write_project(tmp_path, test_patched=MONKEYPATCHED, test_options=OPTIONS_FIXTURE)
    result = run_pytest(project, "-p", "runic.testing")  # explicit, on top of the entry point
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "6 passed" in result.stdout, result.stdout[-2000:]
    assert "warning" not in result.stdout.lower(), result.stdout[-2000:]

"""The distribution as a user gets it: the wheel's files and metadata, its types, the version.

The wheel is built once per module from this checkout (``pip wheel --no-deps``, the build
backend from ``pyproject.toml``) into a temporary directory and inspected as a zip file; for
the typing test it is unpacked into a directory that a plain interpreter (without this
checkout's editable install) sees on ``PYTHONPATH``, which is where mypy looks for installed
packages, so mypy meets runic exactly as it would in a user's environment.
"""

from __future__ import annotations

import email
import re
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import runic

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    [built] = list(out.glob("*.whl"))
    return built


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as z:
        [name] = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(z.read(name))


def test_wheel_files(wheel: Path) -> None:
    assert wheel.name.startswith("runic_workflows-"), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "runic/py.typed" in names
        assert "runic/__main__.py" in names and "runic/cli/__init__.py" in names
        [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        text = z.read(license_file).decode()
        assert "Apache License" in text and "Version 2.0, January 2004" in text
        assert "END OF TERMS AND CONDITIONS" in text, "the full license text, not a stub"
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "runic = runic.cli:main" in entry_points
    tops = {n.split("/", 1)[0] for n in names}
    assert all(t == "runic" or t.endswith(".dist-info") for t in tops), tops  # no tests/, bench/, examples/
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "bench/"))]


def test_wheel_metadata(wheel: Path) -> None:
    meta = _metadata(wheel)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["Name"] == "runic-workflows"
    assert meta["Version"] == pyproject["version"] == runic.__version__
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0"
    classifiers = set(meta.get_all("Classifier") or [])
    assert {"Operating System :: POSIX :: Linux", "Typing :: Typed", "Programming Language :: Python :: 3.11",
            "Programming Language :: Python :: 3.12", "Programming Language :: Python :: 3.13"} <= classifiers
    assert not [c for c in classifiers if c.startswith("Operating System") and "Linux" not in c]
    assert meta.get_all("Project-URL"), "project URLs"
    assert "Durable dataflow workflows" in meta.get_payload(), "the README is the long description"


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib import metadata

    from runic import _version

    assert runic.__version__ == metadata.version("runic-workflows")
    assert _version._from_source_tree() == runic.__version__  # the fallback reads the same pyproject
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        getattr(runic, "no_such_thing")


def test_python_dash_m_runic_is_the_command_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "runic", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"runic {runic.__version__}"
    helped = subprocess.run([sys.executable, "-m", "runic", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: runic "), helped


USER_SCRIPT = textwrap.dedent("""\
    import runic
    from runic.runner import Runner

    def wait(runner: Runner) -> str:
        return runner.await_idle("order-7", timeout="soon")

    wf = runic.workflow("w")
    reveal_type(wf)
    reveal_type(runic.__version__)
    runic.no_such_function()
""")


def _mypy_strict(site: Path, tmp_path: Path) -> str:
    """``mypy --strict`` of :data:`USER_SCRIPT` by an interpreter that finds runic only in ``site``."""
    script = tmp_path / "user_app.py"
    script.write_text(USER_SCRIPT)
    base_python = getattr(sys, "_base_executable", sys.executable)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--python-executable",
                           base_python, "--cache-dir", str(tmp_path / "mypy-cache"), str(script)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def test_mypy_strict_sees_runics_types(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    out = _mypy_strict(site, tmp_path)
    assert 'Argument "timeout" to "await_idle" of "Runner" has incompatible type "str"' in out, out
    assert 'Revealed type is "runic.core.Workflow"' in out, out
    assert re.search(r'Revealed type is "(builtins\.)?str"', out), out  # __version__, declared (not a catch-all __getattr__)
    assert 'Module has no attribute "no_such_function"' in out, out
    assert "import-untyped" not in out and "import-not-found" not in out, out

    # the same wheel without its py.typed marker: mypy would see nothing but Any
    (site / "runic" / "py.typed").unlink()
    again = tmp_path / "untyped"
    again.mkdir()
    untyped = _mypy_strict(site, again)
    assert "missing library stubs or py.typed marker" in untyped, untyped
    assert 'Revealed type is "Any"' in untyped, untyped

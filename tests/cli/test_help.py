"""Every command has --help with a description and an example; the console script is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runic

COMMANDS = ["demo", "run", "ls", "show", "events", "graph", "resume", "stop", "cancel", "delete", "ui"]


def test_top_level_help_lists_every_command(cli):
    r = cli("--help")
    assert r.code == 0, r
    for name in COMMANDS:
        assert f"\n  {name} " in r.out, f"{name} missing from:\n{r.out}"
    bare = cli()
    assert bare.code == 0 and bare.out == r.out, bare


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(cli, name):
    r = cli(name, "--help")
    assert r.code == 0, r
    assert r.out.startswith(f"Usage: runic {name} "), r
    assert "Example:" in r.out and f"runic {name}" in r.out.split("Example:")[1], r
    assert "--debug" in r.out, r
    assert "--dir DIR" in r.out and "--runner NAME" in r.out, r


def test_installed_console_script_runs():
    script = Path(sys.executable).with_name("runic")
    assert script.exists(), "the `runic` console script is not installed (pip install -e .)"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"runic {runic.__version__}"


def test_usage_errors_are_one_line_with_exit_code_2(cli):
    for args, fragment in [(("nope",), "No such command 'nope'"),
                           (("run", "flows:pipeline"), "Missing option '--input'"),
                           (("show",), "Missing argument 'ID'"),
                           (("graph", "x", "--format", "png"), "'png' is not one of 'mermaid', 'dot'")]:
        r = cli(*args)
        assert r.code == 2, r
        assert r.err.strip().count("\n") == 0, r
        assert r.err.startswith("error: ") and fragment in r.err and "--help" in r.err, r
        assert "Traceback" not in r.err, r

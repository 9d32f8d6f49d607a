"""Helpers of the CLI tests: run ``runic`` as a subprocess, find the processes it left."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
MARK = "RUNIC_CLI_TEST_MARK"
LEFTOVER_GRACE_SECONDS = 15.0
COMMAND_TIMEOUT = 120.0


@dataclass
class Result:
    """What a finished command did."""

    args: list[str]
    code: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"<runic {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}>"


def marked_pids(mark: str) -> list[int]:
    """Live processes whose environment carries ``MARK=mark`` (zombies have no environment)."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


class Cli:
    """Runs ``runic`` commands in ``cwd`` with the test's environment."""

    def __init__(self, cwd: Path, mark: str) -> None:
        self.cwd = cwd
        self.mark = mark
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RUNIC_")}
        self.env.update({MARK: mark, "COLUMNS": "160", "PYTHONUNBUFFERED": "1"})

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "runic", *args]

    def __call__(self, *args: str, timeout: float = COMMAND_TIMEOUT, input: str | None = None,  # noqa: A002
                 env: dict | None = None) -> Result:
        proc = subprocess.run(self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout, input=input if input is not None else "")
        return Result(list(args), proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str, env: dict | None = None, new_session: bool = False) -> subprocess.Popen:
        """Start a command in the background (stdout/stderr captured). ``new_session``: in a
        process group of its own, as a terminal runs it, so that a Ctrl-C can be sent to the
        whole group (``os.killpg``), the command and every process it started."""
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=new_session)

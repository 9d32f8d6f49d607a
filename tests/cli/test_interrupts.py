"""Ctrl-C as a terminal sends it: SIGINT to the command's whole process group, at any moment.

Each command runs in a session of its own (a process group, as a shell's foreground job), and
the test sends SIGINT to the group, so the worker host, the actor system's admin and logger get
it too, exactly as when a user presses Ctrl-C. Whatever the moment, the command must print one
line (no traceback from runic or thespian), exit 130, leave no process behind (the ``cli``
fixture checks), and the line must say the truth: a command it prints must continue the
workflow when run as printed.
"""

from __future__ import annotations

import os
import select
import shlex
import signal
import time

import pytest

from runic.store import MnesiaStore

from .test_control import FAST, journal

SAVED = "interrupted; workflow {wid!r} is saved as running; continue with: "


def wait_for_output(proc, needle: str, timeout: float = 60.0) -> str:
    """Read the command's stdout until ``needle`` appears (the command keeps running)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert proc.poll() is None, (seen, proc.communicate())
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} not printed within {timeout} s: {seen!r}"
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
        if ready:
            seen += proc.stdout.readline()
    return seen


def ctrl_c(proc) -> tuple[int, list[str]]:
    """Send SIGINT to the command's process group; its exit code and stderr lines."""
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    return proc.returncode, [line for line in err.splitlines() if line.strip()]


def the_one_line(code: int, lines: list[str]) -> str:
    assert code == 130, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0] and "error" not in lines[0], lines
    return lines[0]


def run_printed(cli, line: str, wid: str):
    """Run the command after "continue with: " as printed (from the same directory)."""
    command = shlex.split(line.split("continue with: ", 1)[1])
    assert command[:3] == ["runic", "resume", wid] or command[:2] == ["runic", "resume"], command
    return cli(*command[1:], env=FAST)


def test_ctrl_c_of_run_prints_the_resume_command_with_its_flags(cli):
    proc = cli.start("run", "flows:slow", "--input", "0", "--id", "job", "--dir", "data", "--runner", "shop",
                     env=FAST, new_session=True)
    wait_for_output(proc, "running flows:slow() as workflow job")
    while len(journal(cli)) < 3:
        time.sleep(0.05)
    line = the_one_line(*ctrl_c(proc))
    assert line == SAVED.format(wid="job") + "runic resume job --dir data --runner shop", line
    with MnesiaStore("shop", dir=cli.cwd / "data") as store:
        assert store.status("job") == "running"
    finished = run_printed(cli, line, "job")
    assert finished.code == 0 and "workflow job finished (status idle)" in finished.out, finished


def test_ctrl_c_of_resume_and_of_a_second_resume(cli):
    first = cli.start("run", "flows:slow", "--input", "0", "--id", "job", "--dir", "data", env=FAST, new_session=True)
    wait_for_output(first, "as workflow job")
    while len(journal(cli)) < 3:
        time.sleep(0.05)
    line = the_one_line(*ctrl_c(first))
    done = len(journal(cli))
    proc = cli.start(*shlex.split(line.split("continue with: ", 1)[1])[1:], env=FAST, new_session=True)
    wait_for_output(proc, "resuming workflow job")
    while len(journal(cli)) < done + 3:
        time.sleep(0.05)
    again = the_one_line(*ctrl_c(proc))
    assert again == SAVED.format(wid="job") + "runic resume job --dir data", again


def test_ctrl_c_of_the_demo(cli):
    proc = cli.start("demo", "--dir", "demo data", new_session=True)
    wait_for_output(proc, "2. running demo-1")
    time.sleep(0.3)
    line = the_one_line(*ctrl_c(proc))
    if line.startswith("interrupted before"):  # the Ctrl-C came before the workflow was saved
        assert line == "interrupted before workflow 'demo-1' was saved; nothing was started"
        return
    assert line.startswith(SAVED.format(wid="demo-1")) and line.endswith("runic resume demo-1 --dir 'demo data'"), line
    finished = run_printed(cli, line, "demo-1")
    assert finished.code == 0 and "workflow demo-1 finished (status idle)" in finished.out, finished


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.5, 0.8])
def test_ctrl_c_at_any_moment_of_the_start_up(cli, delay):
    """From the first line the command prints (its store open, its Runner not yet started) on."""
    proc = cli.start("run", "flows:slow", "--input", "0", "--id", "job", "--dir", "data", env=FAST, new_session=True)
    wait_for_output(proc, "as workflow job")
    time.sleep(delay)
    line = the_one_line(*ctrl_c(proc))
    with MnesiaStore("runic", dir=cli.cwd / "data") as store:
        saved = store.status("job")
    if saved is None:
        assert line == "interrupted before workflow 'job' was saved; nothing was started", line
    else:
        assert saved == "running" and line == SAVED.format(wid="job") + "runic resume job --dir data", line


def test_sigterm_is_an_interruption_too(cli):
    proc = cli.start("run", "flows:slow", "--input", "0", "--id", "job", "--dir", "data", env=FAST)
    wait_for_output(proc, "as workflow job")
    while not journal(cli):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    line = the_one_line(proc.returncode, [x for x in err.splitlines() if x.strip()])
    assert line == SAVED.format(wid="job") + "runic resume job --dir data", line

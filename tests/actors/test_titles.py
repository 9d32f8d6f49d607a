"""Every process of an actor system says what it is in ps/top (read from /proc/PID/cmdline)."""

from __future__ import annotations

import os
from pathlib import Path

import runic
from runic.actors.titles import child_title

from . import actors


def title(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()


def test_child_title_rule() -> None:
    assert child_title("app.host-0") == "app host-0"
    assert child_title("app.Store") == "app store"
    assert child_title("app.Runner", "supervisor") == "app runner"
    assert child_title("app.host/wf-1") == "app host/wf-1"
    assert child_title("app", "supervisor") == "app supervisor"
    assert child_title("job-1") == "job-1"


def test_every_process_of_a_runner_tree_is_named(runic_runner, runic_actor_system) -> None:
    wf = runic.workflow("titles", steps=[runic.step(actors.noisy_step)])
    runic_runner.start_workflow("w", wf)  # starts the system and the Runner "test"
    system = runic_actor_system.handle
    titles = sorted(title(pid) for pid in system.pids())
    port = system.admin_port
    assert titles == sorted([
        f"runic: admin :{port}",
        "runic: logger",
        "runic: watchdog",
        "runic: test supervisor",
        "runic: test store",
        "runic: test runner",
        "runic: test host-0",
    ]), titles
    assert title(system.guardian.pid) == f"runic: guardian :{port}"
    assert not title(os.getpid()).startswith("runic:")  # the driver keeps its own name

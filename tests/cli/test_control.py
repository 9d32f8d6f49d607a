"""Stopping, interrupting and killing `runic run`, then `runic resume`: completed steps never run again."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter

from runic.events import RunnableCompleted, RunnableDispatched
from runic.store import MnesiaStore

from ..waiting import wait_for

STEPS = 40
FAST = {"FLOWS_TICK_SECONDS": "0.08"}


def journal(cli) -> list[str]:
    path = cli.cwd / "journal.txt"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def status(cli, wid: str) -> str | None:
    with MnesiaStore("runic", dir=cli.cwd / "data") as store:
        return store.status(wid)


def completions(cli, wid: str) -> Counter:
    """How many times each step's completion is recorded in the stream."""
    with MnesiaStore("runic", dir=cli.cwd / "data") as store:
        events = list(store.stream(wid))
    names = {e.node_hash: e.node_name for e in events if isinstance(e, RunnableDispatched)}
    return Counter(names[e.node_hash] for e in events if isinstance(e, RunnableCompleted))


def assert_each_step_ran_once_but_in_flight(cli, interruptions: int) -> None:
    counts = Counter(journal(cli))
    assert sorted(counts) == sorted(f"s{i}" for i in range(STEPS)), counts
    assert completions(cli, "job") == Counter({f"s{i}": 1 for i in range(STEPS)})
    twice = [name for name, n in counts.items() if n > 1]
    # a chain has one step in flight at a time: at most that one is redone per interruption
    assert len(twice) <= interruptions and all(counts[n] == 2 for n in twice), (cli.cwd / "journal.txt").read_text()


def start_slow_run(cli, wid: str):
    proc = cli.start("run", "flows:slow", "--input", "0", "--id", wid, "--dir", "data", env=FAST)
    wait_for(lambda: len(journal(cli)) >= 5 or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    return proc


def resume_to_the_end(cli, wid: str) -> None:
    r = cli("resume", wid, "--dir", "data", env=FAST)
    assert r.code == 0, r
    assert re.search(rf"resuming workflow {wid} \(status (running|stopped)\)", r.out), r
    assert re.search(rf"\bs{STEPS - 1}\s+{STEPS}\b", r.out), r
    assert f"workflow {wid} finished (status idle)" in r.out, r
    assert status(cli, wid) == "idle"


def test_stop_then_resume(cli):
    proc = start_slow_run(cli, "job")
    busy = cli("delete", "job", "--dir", "data", "--yes")
    assert busy.code == 2 and "workflow 'job' is running; stop it first (`runic stop job --dir data`) or pass --force" in busy.err
    r = cli("stop", "job", "--dir", "data")
    assert r.code == 0, r
    assert re.search(r"stopped workflow job \(epoch \d+\); it was owned by runic/runic\.host-0/\d+ \(epoch \d+\), "
                     r"which is now fenced", r.out), r
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "error: workflow 'job' was stopped before it finished" in err, err
    assert status(cli, "job") == "stopped"
    again = cli("stop", "job", "--dir", "data")
    assert again.code == 0 and "workflow job is not running (status stopped); nothing to stop" in again.out, again
    ran_before = len(journal(cli))
    assert ran_before < STEPS
    show = cli("show", "job", "--dir", "data")
    assert show.code == 0 and re.search(r"status\s+stopped", show.out), show
    pending = re.search(r"pending work \(1\)\nstep\s+┃ input\s*\n━+╇━+\s*\n(s\d+)\s+│ (\d+)", show.out)
    assert pending and pending.group(1) == f"s{pending.group(2)}", show  # s<k> waits on the value k
    graph = cli("graph", "job", "--dir", "data")
    assert graph.code == 0 and re.search(rf"step: {pending.group(1)}<br/>pending 1", graph.out), graph
    resume_to_the_end(cli, "job")
    assert_each_step_ran_once_but_in_flight(cli, interruptions=1)


def test_ctrl_c_saves_the_run_and_resume_finishes_it(cli):
    proc = start_slow_run(cli, "job")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == [
        "interrupted; workflow 'job' is saved as running; continue with: runic resume job --dir data"], err
    assert status(cli, "job") == "running"
    resume_to_the_end(cli, "job")
    assert_each_step_ran_once_but_in_flight(cli, interruptions=1)


def test_sigkill_of_the_cli_then_resume(cli):
    proc = start_slow_run(cli, "job")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert status(cli, "job") == "running"
    resume_to_the_end(cli, "job")
    # the store records every step completed exactly once
    assert completions(cli, "job") == Counter({f"s{i}": 1 for i in range(STEPS)})
    runs = [line.split() for line in (cli.cwd / "journal.txt").read_text().splitlines()]
    assert {name for name, _pid in runs} == {f"s{i}" for i in range(STEPS)}
    assert runs[-1][1] != runs[0][1], "the resumed steps ran in a new worker host"
    # (the killed CLI's orphaned host may run a few more steps before its actor system stops;
    # their results are refused by the store, so they are only repeated side effects)

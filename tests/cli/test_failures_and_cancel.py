"""Failures and cancellation on the command line: `runic show` tells every failure with its
traceback, `runic ls` knows every status, `runic cancel` takes a workflow over for good."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from runic.runner import Runner, WorkflowTakenOverError
from runic.store import MnesiaStore

from ..ui import flows as uiflows
from ..waiting import wait_for
from .test_control import journal, start_slow_run, status

ORDER = {"items": [{"qty": 2, "price": 10}, {"qty": 1, "price": 35}, {"qty": 4, "price": 0.5}]}


def test_show_prints_every_failure_with_its_traceback(cli):
    r = cli("run", "flows:failing", "--input", json.dumps(ORDER), "--id", "bad", "--dir", "data")
    assert r.code == 1, r
    show = cli("show", "bad", "--dir", "data")
    assert show.code == 0, show
    assert re.search(r"status\s+failed", show.out), show
    assert "failures (1 recorded; 1 failed for good)" in show.out, show
    assert re.search(r"#1 ship \(step\) attempt 1: failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n"
                     r"    ValueError: cannot ship an order of 57\.0\n    input: 57\.0\n"
                     r"    │ Traceback \(most recent call last\):\n", show.out), show
    assert '    │     raise ValueError(f"cannot ship an order of {total}")' in show.out, show
    assert "    │ ValueError: cannot ship an order of 57.0" in show.out, show
    short = cli("show", "bad", "--dir", "data", "--short")
    assert short.code == 0 and "ValueError: cannot ship an order of 57.0" in short.out, short
    assert "Traceback" not in short.out and "│ " not in short.out.split("failures (")[1].split("productions")[0], short


def test_show_lists_the_attempts_that_were_retried(cli):
    r = cli("run", "flows:flaky", "--input", json.dumps(ORDER), "--id", "flaky", "--dir", "data")
    assert r.code == 0, r  # the third attempt succeeded
    show = cli("show", "flaky", "--dir", "data")
    assert show.code == 0 and re.search(r"status\s+idle", show.out), show
    assert "failures (2 recorded; 0 failed for good)" in show.out, show
    for attempt in (1, 2):
        assert re.search(rf"#{attempt} lookup \(step\) attempt {attempt}: retried at .*\n"
                         rf"    ConnectionError: lookup service unavailable \(attempt {attempt}\)", show.out), show
    assert show.out.count("│ Traceback (most recent call last):") == 2, show


def test_ls_shows_and_filters_every_status(cli):
    assert cli("run", "flows:failing", "--input", json.dumps(ORDER), "--id", "bad", "--dir", "data").code == 1
    assert cli("run", "flows:pipeline", "--input", json.dumps(ORDER), "--id", "good", "--dir", "data").code == 0
    assert cli("run", "flows:pipeline", "--input", json.dumps(ORDER), "--id", "gone", "--dir", "data").code == 0
    assert cli("cancel", "gone", "--dir", "data").code == 0
    every = cli("ls", "--dir", "data")
    assert every.code == 0, every
    for wid, st in (("bad", "failed"), ("good", "idle"), ("gone", "cancelled")):
        assert re.search(rf"{wid}\s+│\s+{st}\s+│\s+shop", every.out), every
    cancelled = cli("ls", "--dir", "data", "--status", "cancelled")
    assert cancelled.code == 0 and "gone" in cancelled.out and "good" not in cancelled.out, cancelled
    two = cli("ls", "--dir", "data", "--status", "cancelled", "--status", "failed")
    assert re.findall(r"^(\w+)\s+│", two.out, re.M) == ["bad", "gone"], two
    bad = cli("ls", "--dir", "data", "--status", "finished")
    assert bad.code == 2 and "'finished' is not one of 'running', 'idle', 'stopped', 'failed', 'cancelled'" in bad.err, bad


def test_cancel_a_running_workflow_fences_the_runner_and_it_is_never_resumed(cli):
    proc = start_slow_run(cli, "job")
    r = cli("cancel", "job", "--dir", "data")
    assert r.code == 0, r
    assert re.search(r"cancelled workflow job \(was running; epoch \d+\); it was owned by runic/runic\.host-0/\d+ "
                     r"\(epoch \d+\), which is now fenced\. It will not be resumed; `runic delete job --dir data` "
                     r"removes it", r.out), r
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "error: workflow 'job' ended with status 'cancelled'" in err, (out, err)
    assert status(cli, "job") == "cancelled"
    ran = len(journal(cli))
    assert 5 <= ran < 40, ran  # it stopped part-way
    again = cli("cancel", "job", "--dir", "data")
    assert again.code == 0 and "workflow job is already cancelled; nothing to do" in again.out, again
    resume = cli("resume", "job", "--dir", "data")
    assert resume.code != 0 and "workflow 'job' was cancelled; a cancelled workflow is not resumed" in resume.err, resume
    assert status(cli, "job") == "cancelled" and len(journal(cli)) == ran  # nothing more ran
    show = cli("show", "job", "--dir", "data")
    assert show.code == 0 and re.search(r"status\s+cancelled", show.out) and re.search(r"owner\s+runic-cli/", show.out)


def test_cancel_a_finished_workflow_keeps_its_failures_and_an_unknown_id_is_a_usage_error(cli):
    assert cli("run", "flows:failing", "--input", json.dumps(ORDER), "--id", "bad", "--dir", "data").code == 1
    r = cli("cancel", "bad", "--dir", "data")
    assert r.code == 0 and "cancelled workflow bad (was failed;" in r.out, r
    show = cli("show", "bad", "--dir", "data", "--short")
    assert re.search(r"status\s+cancelled", show.out) and "failures (1 recorded; 1 failed for good)" in show.out, show
    unknown = cli("cancel", "nope", "--dir", "data")
    assert unknown.code == 2 and unknown.error_line.startswith("error: no workflow 'nope' in "), unknown


def test_cancel_tells_the_waiters_of_a_live_runner(cli, actor_system, tmp_path: Path):
    """A Runner (here, in the test's process) runs the workflow; `runic cancel` in another process
    fences it: the Worker stops at its next write and `await_idle` raises, naming the new owner."""
    d = tmp_path / "store"
    runner = Runner.start_link(name="runic", store=MnesiaStore, store_opts={"dir": str(d)}, recover="manual",
                               system=actor_system, timeout=60)
    try:
        runner.start_workflow("live", uiflows.chain(60), input=0)
        outcome: dict = {}

        def wait() -> None:
            try:
                outcome["status"] = runner.await_idle("live", timeout=120)
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                outcome["error"] = exc

        waiter = threading.Thread(target=wait)
        waiter.start()
        with MnesiaStore("runic", dir=d) as store:
            wait_for(lambda: store.cursor("live") > 20)  # a few steps have run
        r = cli("cancel", "live", "--dir", str(d))
        assert r.code == 0 and "which is now fenced" in r.out, r
        waiter.join(timeout=120)
        assert not waiter.is_alive()
        error = outcome.get("error")
        assert isinstance(error, WorkflowTakenOverError), outcome
        assert "runic-cli/" in str(error) and "taken over" in str(error)
        with MnesiaStore("runic", dir=d) as store:
            assert store.status("live") == "cancelled"
        assert runner.status("live") == "cancelled"
    finally:
        runner.shutdown()


@pytest.mark.parametrize("command", ["cancel", "stop"])
def test_help_of_cancel_and_stop_says_a_runner_is_fenced(cli, command):
    r = cli(command, "--help")
    assert r.code == 0 and "fenced" in r.out, r

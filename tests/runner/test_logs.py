"""Step logs reach the driver and a log file beside the store's data that outlives the Runner,
also from process-executor attempts."""

from __future__ import annotations

import logging
import os

import pytest

import runic

from . import fns


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_step_logs_reach_the_driver_and_the_log_file_beside_the_store(make_runner, tmp_path, caplog, capfd,
                                                                      executor):
    caplog.set_level(logging.INFO)
    r = make_runner("mnesia")
    wf = runic.workflow("logs", steps=[runic.step(fns.logs_and_prints, name="talk")])
    r.start_workflow("l1", wf, input=41, executor=executor)
    assert r.await_idle("l1", timeout=60) == "idle"
    name = r.name
    r.shutdown()  # the relay drains before the system stops
    records = [rec for rec in caplog.records if rec.name == "tests.runner.fns"]
    assert any(rec.levelno == logging.WARNING and "step saw 41" in rec.getMessage() for rec in records), records
    assert "printed by the step: 41" in capfd.readouterr().out
    log_file = tmp_path / "data" / f"{name}.log"
    text = log_file.read_text()
    assert "step saw 41" in text and "WARNING" in text and "tests.runner.fns" in text


def test_runic_show_says_where_the_log_file_is(make_runner, tmp_path):
    import subprocess
    import sys

    r = make_runner("mnesia")
    r.start_workflow("l2", runic.workflow("logs", steps=[runic.step(fns.logs_and_prints, name="talk")]), input=1)
    assert r.await_idle("l2", timeout=60) == "idle"
    name = r.name
    r.shutdown()
    out = subprocess.run([sys.executable, "-m", "runic", "show", "l2", "--dir", str(tmp_path / "data"),
                          "--runner", name], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "400"})  # a long temp path is not folded
    assert out.returncode == 0, out.stderr
    log_row = next(line for line in out.stdout.splitlines() if line.startswith("log "))
    assert log_row.split(None, 1)[1].strip() == str(tmp_path / "data" / f"{name}.log")

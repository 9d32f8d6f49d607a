"""Worker hosts run with timer slack at its minimum (1 ns), on every thread that runs steps: a
step that sleeps or waits with a timeout no longer pays Linux's default 50 µs per wait."""

from __future__ import annotations

import sys

import pytest

import runic

from . import fns

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl timer slack is Linux's")


def test_steps_run_with_a_1_ns_timer_slack_on_every_executor(make_runner):
    r = make_runner("mnesia")
    for executor in ("thread", "inline"):
        wid = f"slack-{executor}"
        r.start_workflow(wid, runic.workflow(steps=[runic.step(fns.timer_slack, name="s")]), input=0,
                         executor=executor)
        assert r.await_idle(wid, timeout=30) == "idle"
        assert r.get_results(wid, ["s"]) == {"s": 1}, executor  # the step's own thread
    hosts = [e["pid"] for e in r.tree() if e["role"] == "host"]
    assert hosts
    for pid in hosts:  # and the hosts' main (actor) threads
        with open(f"/proc/{pid}/timerslack_ns") as f:
            assert int(f.read()) == 1
    with open("/proc/self/timerslack_ns") as f:  # the caller's process is left alone
        assert int(f.read()) != 1

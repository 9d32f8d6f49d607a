"""Crash recovery with real processes killed by SIGKILL (issue: Runner recovery rows)."""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from pathlib import Path

import pytest

import runic
from runic.actors import procs
from runic.store import MnesiaStore

from ..waiting import wait_for
from . import fns

STEPS = 12


def journaled_pipeline(path: Path, steps: int = STEPS, delay: float = 0.08) -> runic.Workflow:
    wf = runic.Workflow("journaled")
    prev = None
    for i in range(steps):
        name = f"s{i}"
        wf.add(runic.step(functools.partial(fns.journal_step, str(path), name, delay), name=name), to=prev)
        prev = name
    return wf


def read_journal(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def running_on_new_pid(runner, wid, old_pid):
    loc = runner.lookup(wid)
    return loc if loc is not None and loc.pid not in (None, old_pid) else None


def assert_no_completed_step_ran_twice(records: list[list[str]], in_flight: set[str]) -> None:
    counts: dict[str, int] = {}
    keys: dict[str, set] = {}
    for name, key in records:
        counts[name] = counts.get(name, 0) + 1
        keys.setdefault(name, set()).add(key)
    assert sorted(counts) == sorted(f"s{i}" for i in range(STEPS)), "every step ran"
    twice = {n for n, c in counts.items() if c > 1}
    assert twice <= in_flight, f"steps that had completed ran again: {twice - in_flight}"
    assert all(len(k) == 1 for k in keys.values()), "a re-run step got the same idempotency key"


def test_sigkill_of_a_worker_host_mid_pipeline(make_runner, tmp_path):
    runner = make_runner("mnesia")
    path = tmp_path / "steps.jsonl"
    runner.start_workflow("job", journaled_pipeline(path), input=0)
    wait_for(lambda: len(read_journal(path)) >= 4)
    victim = runner.lookup("job").pid
    seen = read_journal(path)
    os.kill(victim, signal.SIGKILL)
    loc = wait_for(lambda: running_on_new_pid(runner, "job", victim))
    assert loc.pid != victim and not procs.is_alive(victim)
    assert runner.await_idle("job", timeout=60) == "idle"
    assert runner.get_results("job", [f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
    assert_no_completed_step_ran_twice(read_journal(path), in_flight={seen[-1][0], f"s{len(seen)}"})
    hosts = [e for e in runner.tree() if e["role"] == "host"]
    assert sum(e["restarts"] for e in hosts) == 1


def test_sigkill_of_the_store_actor_does_not_disturb_the_run(make_runner, tmp_path):
    runner = make_runner("mnesia")
    path = tmp_path / "steps.jsonl"
    runner.start_workflow("job", journaled_pipeline(path, delay=0.05), input=0)
    wait_for(lambda: len(read_journal(path)) >= 3)
    tree = runner.tree()
    store_pid = next(e["pid"] for e in tree if e["role"] == "store")
    host_pids = sorted(e["pid"] for e in tree if e["role"] == "host")
    os.kill(store_pid, signal.SIGKILL)
    assert runner.await_idle("job", timeout=60) == "idle"
    assert runner.get_results("job", [f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
    tree = wait_for(lambda: [t for t in [runner.tree()] if next(e for e in t if e["role"] == "store")["pid"] not in (None, store_pid)])[0]
    assert next(e for e in tree if e["role"] == "store")["restarts"] == 1
    assert sorted(e["pid"] for e in tree if e["role"] == "host") == host_pids  # undisturbed
    counts = {}
    for name, _ in read_journal(path):
        counts[name] = counts.get(name, 0) + 1
    assert set(counts.values()) == {1}


def test_sigkill_of_the_whole_tree_then_a_new_runner_resumes(make_runner, tmp_path):
    first = make_runner("mnesia", name="plant")
    path = tmp_path / "steps.jsonl"
    first.start_workflow("job", journaled_pipeline(path), input=0)
    first.start_workflow("done", runic.workflow(steps=[runic.step(fns.add1, name="a")]), input=1)
    first.await_idle("done", timeout=20)
    wait_for(lambda: len(read_journal(path)) >= 4)
    seen = read_journal(path)
    tree = first.pids()
    procs.kill_pids(tree, signal.SIGKILL)
    assert not procs.wait_gone(tree, 10)
    with MnesiaStore("plant", dir=tmp_path / "data") as store:
        assert store.status("job") == "running" and store.status("done") == "idle"
    second = make_runner("mnesia", name="plant")
    loc = wait_for(lambda: second.lookup("job"))
    assert loc.host.startswith("plant.host")
    assert second.await_idle("job", timeout=60) == "idle"
    assert second.get_results("job", [f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
    assert second.lookup("done") is None  # finished work is not resumed
    assert_no_completed_step_ran_twice(read_journal(path), in_flight={seen[-1][0], f"s{len(seen)}"})


def test_two_runners_on_one_store_never_both_own_a_workflow(make_runner, tmp_path):
    a = make_runner("mnesia", name="shared", lease=1.0)
    path = tmp_path / "steps.jsonl"
    a.start_workflow("job", journaled_pipeline(path, delay=0.4), input=0)
    wait_for(lambda: len(read_journal(path)) >= 3)
    b = make_runner("mnesia", name="shared", lease=1.0)  # recover="auto": a is alive, so b takes nothing
    time.sleep(1.5)  # several of b's reaper ticks (every lease / 4)
    assert b.lookup("job") is None and a.lookup("job") is not None
    b.resume("job")  # an explicit takeover: a's worker is fenced
    wait_for(lambda: b.lookup("job"))
    wait_for(lambda: a.lookup("job") is None)  # a's worker was fenced and stopped itself
    assert b.await_idle("job", timeout=60) == "idle"
    assert b.get_results("job", [f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        owner, epoch = store.owner("job")
        assert owner.startswith("shared/shared.host") and epoch >= 2
        rebuilt = runic.Workflow.from_events(list(store.stream("job")), fact_mode="ref")
        assert not rebuilt.is_runnable()
        produced = [e for e in store.stream("job") if type(e).__name__ == "FactProduced" and e.producer_label == "produced"]
        assert len({e.hash for e in produced}) == len(produced) == STEPS  # no interleaved duplicates


def test_resuming_a_workflow_with_a_lambda_needs_functions(make_runner):
    r = make_runner("mnesia")
    r.start_workflow("lam", runic.workflow(steps=[runic.step(lambda x: x + 100, name="plus")]), input=1)
    r.await_idle("lam", timeout=20)
    r.stop("lam")
    with pytest.raises(runic.FunctionRestoreError, match="plus"):
        r.resume("lam")
    r.resume("lam", functions={"plus": lambda x: x + 100})
    assert r.get_results("lam") == [101]

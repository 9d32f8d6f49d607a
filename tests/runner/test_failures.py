"""Failures are outcomes: every error reaches the caller, nothing hangs, nothing is hidden.

Through the public Runner API, on MemoryStore and MnesiaStore, with real processes: the
refusals at the door, the ``failed`` status and ``WorkflowFailedError``, step results that
cannot be persisted, cancel and stop with process attempts, stored (non-live) workflows, waits
that end when a host dies, and acknowledged inputs that survive a SIGKILL of their host.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import runic
from runic import codec
from runic.actors import procs
from runic.store import MnesiaStore
from runic.errors import ArgumentError, InvalidPolicyError
from runic.runner import (
    AlreadyStartedError,
    RunnerBusyError,
    WorkflowCancelledError,
    WorkflowFailedError,
    WorkflowLostError,
    WorkflowNotFoundError,
)

from ..waiting import wait_for
from . import fns


def chain(name: str = "c") -> runic.Workflow:
    return runic.workflow(name, steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])


def failing(name: str = "f") -> runic.Workflow:
    return runic.workflow(name, steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.boom, name="bad")])])


# ----------------------------------------------------------------------------- the door

def test_bad_input_is_refused_in_the_caller_and_nothing_is_stored(runner):
    wf = chain()
    with pytest.raises(codec.EncodeError, match="register"):
        runner.start_workflow("d1", wf, input=fns.Opaque(1))
    assert not runner.stored("d1").exists
    runner.start_workflow("d2", wf)
    cursor = runner.stored("d2").cursor
    with pytest.raises(codec.EncodeError, match="not accepted"):
        runner.run("d2", fns.Opaque(1))
    with pytest.raises(codec.EncodeError, match="run context"):
        runner.run("d2", 1, run_context={"_global": {"lock": threading.Lock()}})
    with pytest.raises(InvalidPolicyError, match="retries"):
        runner.run("d2", 1, scheduler_policies=[("a", {"retries": 3})])
    assert runner.stored("d2").cursor == cursor  # nothing of the refused inputs reached the store
    with pytest.raises(ArgumentError, match="max_concurrency"):
        runner.start_workflow("d3", wf, max_concurrency=0)
    with pytest.raises(ArgumentError, match="executor"):
        runner.start_workflow("d3", wf, executor="gpu")
    with pytest.raises(ArgumentError, match="on_finish"):
        runner.start_workflow("d3", wf, hooks={"on_finish": print})
    with pytest.raises(ArgumentError, match="checkpoint_strategy"):
        runner.start_workflow("d3", wf, checkpoint_strategy="sometimes")
    with pytest.raises(ArgumentError):
        runner.start_workflow(True, wf)
    with pytest.raises(runic.ArgumentTypeError, match="runic.Workflow"):
        runner.start_workflow("d3", lambda x: x)
    with pytest.raises(codec.EncodeError):
        runner.start_many(wf, [("m1", 1), ("m2", fns.Opaque(2))])
    assert not runner.stored("d3").exists and not runner.stored("m1").exists


def test_errors_raised_in_worker_hosts_keep_their_class(runner):
    runner.start_workflow("dup", chain())
    with pytest.raises(AlreadyStartedError):
        runner.start_workflow("dup", chain())
    with pytest.raises(WorkflowNotFoundError):
        runner.run("nobody", 1)
    with pytest.raises(WorkflowNotFoundError):
        runner.resume("nobody")


def test_an_id_the_store_holds_is_not_started_again(runner):
    runner.start_workflow("once", chain(), input=1)
    assert runner.await_idle("once", timeout=30) == "idle"
    runner.stop("once")
    cursor = runner.stored("once").cursor
    with pytest.raises(AlreadyStartedError, match="resume"):
        runner.start_workflow("once", chain(), input=2)
    with pytest.raises(runic.runner.RunnerError, match="1 of 2"):
        runner.start_many(chain(), [("once", 3), ("fresh", 4)])
    assert runner.stored("once").cursor == cursor  # no second definition, no input appended
    assert runner.await_idle("fresh", timeout=30) == "idle"


# ----------------------------------------------------------------------------- failed

def test_a_step_that_fails_for_good_fails_the_workflow(runner):
    runner.start_workflow("f", failing(), input=1)
    with pytest.raises(WorkflowFailedError) as info:
        runner.await_idle("f", timeout=30)
    err = info.value
    assert "'bad'" in str(err) and "RuntimeError" in str(err) and "boom on 2" in str(err)
    assert [f.component for f in err.failures] == ["bad"]
    assert runner.await_idle("f", timeout=30, raise_on_failure=False) == "failed"
    assert runner.status("f") == "failed"
    [failure] = runner.failures("f")
    assert failure.error_type == "RuntimeError" and failure.final and "boom" in failure.traceback
    # the next input that succeeds makes it idle again
    runner.start_workflow("f2", runic.workflow("f2", steps=[runic.step(fns.add1, name="a")]))
    assert runner.run("f2", 1, await_idle=True) == "idle"
    assert runner.await_many(["f", "f2"], timeout=30) == {"f": "failed", "f2": "idle"}


def test_skipped_failures_do_not_fail_the_workflow(runner):
    wf = failing("sk")
    wf.add_scheduler_policy("bad", {"on_failure": "skip"})
    runner.start_workflow("sk", wf, input=1)
    assert runner.await_idle("sk", timeout=30) == "idle"


def test_retried_attempts_are_recorded_with_their_errors(runner, tmp_path):
    flaky = fns.FlakyFile(tmp_path / "n", failures=2)
    wf = runic.workflow("r", steps=[runic.step(flaky, name="flaky")])
    wf.add_scheduler_policy("flaky", {"max_retries": 3})
    runner.start_workflow("r", wf, input=1)
    assert runner.await_idle("r", timeout=30) == "idle"
    records = runner.failures("r")
    assert [(f.component, f.attempts, f.final) for f in records] == [("flaky", 1, False), ("flaky", 2, False)]
    assert all("flaky failure" in f.message and f.action == "retry" for f in records)


def test_a_step_result_that_cannot_be_persisted_fails_with_advice_and_never_wedges(runner):
    wf = runic.workflow("u", steps=[(runic.step(fns.returns_opaque, name="make"), [runic.step(fns.add1, name="after")])])
    runner.start_workflow("u", wf, input=1)
    with pytest.raises(WorkflowFailedError, match="register") as info:
        runner.await_idle("u", timeout=30)
    assert "'make'" in str(info.value) and "EncodeError" in str(info.value)
    runner.run("u", 2)  # the Worker is not wedged: it takes the next input and settles
    assert runner.await_idle("u", timeout=30, raise_on_failure=False) == "failed"


# ----------------------------------------------------------------------------- stored workflows

def test_stored_workflows_answer_after_their_worker_is_gone(make_runner, store_kind, tmp_path):
    r = make_runner(store_kind)
    r.start_workflow("done", chain(), input=1)
    assert r.await_idle("done", timeout=30) == "idle"
    r.start_workflow("bad", failing(), input=1)
    assert r.await_idle("bad", timeout=30, raise_on_failure=False) == "failed"
    r.stop("done")
    r.stop("bad")
    assert r.list_workflows() == []
    assert r.status("done") == "stopped" and r.status("bad") == "stopped"
    assert sorted(r.get_results("done")) == [2, 4]
    assert r.get_results("done", ["b"]) == {"b": 4}
    assert r.get_workflow("done").results(["a"]) == {"a": 2}
    assert [f.component for f in r.failures("bad")] == ["bad"]
    assert r.await_idle("done", timeout=5) == "stopped"
    with pytest.raises(WorkflowNotFoundError):
        r.status("never-stored")
    if store_kind == "mnesia":  # a new Runner on the same store, after every process is gone
        name = r.name
        r.shutdown()
        r2 = make_runner(store_kind, name=name, recover="manual")
        assert r2.get_results("done", ["b"]) == {"b": 4}
        assert r2.failures("bad")[0].error_type == "RuntimeError"


# ----------------------------------------------------------------------------- cancel and stop

@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_cancel_and_stop_kill_in_flight_process_attempts(runner, tmp_path, how):
    pidfile = tmp_path / "pid"
    step = runic.step(functools.partial(fns.pid_then_sleep, str(pidfile)), name="long")
    wf = runic.workflow("k", steps=[(step, [runic.step(fns.add1, name="after")])])
    runner.start_workflow("k", wf, executor="process", input=1)
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), timeout=30))
    assert procs.is_alive(pid)
    if how == "cancel":
        runner.cancel("k")
    else:
        runner.stop("k", persist=False)
    wait_for(lambda: not procs.is_alive(pid), timeout=10)
    expected = "cancelled" if how == "cancel" else "stopped"
    assert runner.status("k") == expected
    assert runner.await_idle("k", timeout=10) == expected
    assert runner.get_results("k") == []
    if how == "cancel":
        with pytest.raises(WorkflowCancelledError):
            runner.resume("k")


def test_cancel_abandons_thread_attempts_and_runs_nothing_more(runner, tmp_path):
    gate = tmp_path / "gate"
    step = runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated")
    wf = runic.workflow("t", steps=[(step, [runic.step(fns.double, name="after")])])
    runner.start_workflow("t", wf, input=1)
    wait_for(lambda: runner.worker_state("t")["active_tasks"] == 1)
    runner.cancel("t")
    gate.touch()  # the abandoned attempt finishes now: its result must be discarded
    time.sleep(0.3)
    assert runner.status("t") == "cancelled"
    assert runner.get_results("t") == []
    with pytest.raises(WorkflowNotFoundError):
        runner.run("t", 5)


def test_a_sigkilled_host_leaves_no_attempt_process_running(make_runner, tmp_path):
    r = make_runner("mnesia", pool_size=1)
    pidfile = tmp_path / "pid"
    step = runic.step(functools.partial(fns.pid_then_sleep, str(pidfile)), name="long")
    r.start_workflow("orphan", runic.workflow("o", steps=[step]), executor="process", input=1)
    attempt = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), timeout=30))
    host = r.lookup("orphan").pid
    pidfile.unlink()
    os.kill(host, signal.SIGKILL)
    wait_for(lambda: not procs.is_alive(attempt), timeout=10)  # died with its host
    # the restarted host runs the step again (it was in flight), alone
    again = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), timeout=30))
    assert again != attempt and procs.is_alive(again)
    r.cancel("orphan")
    wait_for(lambda: not procs.is_alive(again), timeout=10)


# ----------------------------------------------------------------------------- waits that end

def test_a_wait_ends_when_the_workflow_cannot_be_resumed(make_runner):
    r = make_runner("mnesia", pool_size=1)
    gate_step = runic.step(lambda x: time.sleep(60) or x, name="sleepy")  # a lambda: not restorable
    r.start_workflow("lost", runic.workflow("l", steps=[gate_step]), input=1)
    host = wait_for(lambda: r.lookup("lost")).pid
    waiter: dict = {}

    def wait() -> None:
        try:
            r.await_idle("lost", timeout=120)
        except Exception as exc:  # noqa: BLE001 - inspected below
            waiter["error"] = exc

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.3)
    os.kill(host, signal.SIGKILL)
    t.join(60)
    assert not t.is_alive(), "the wait did not end"
    err = waiter.get("error")
    assert isinstance(err, WorkflowLostError), err
    assert "sleepy" in str(err) and "functions=" in str(err)


def test_a_wait_follows_its_workflow_to_a_restarted_host(make_runner, tmp_path):
    r = make_runner("mnesia", pool_size=1)
    gate = tmp_path / "gate"
    step = runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated")
    r.start_workflow("moves", runic.workflow("m", steps=[step]), input=1)
    host = wait_for(lambda: r.lookup("moves")).pid
    out: dict = {}

    def wait() -> None:
        try:
            out["status"] = r.await_idle("moves", timeout=120)
        except Exception as exc:  # noqa: BLE001 - inspected below
            out["error"] = exc

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.3)
    os.kill(host, signal.SIGKILL)
    wait_for(lambda: (loc := r.lookup("moves")) is not None and loc.pid != host, timeout=60)
    gate.touch()
    t.join(60)
    assert out == {"status": "idle"}
    assert r.get_results("moves") == [2]


# ----------------------------------------------------------------------------- acknowledged means durable

def _accept(runner, wid, value) -> None:
    """``run`` until it is accepted (the host may be restarting: a refusal accepted nothing)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            runner.run(wid, value)
            return
        except (RunnerBusyError, WorkflowNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _kill_after_every_ack(runner, kills: int) -> None:
    runner.start_workflow("acked", runic.workflow("acked", steps=[runic.step(fns.double, name="d")]))
    for i in range(kills):
        _accept(runner, "acked", 1000 + i)
        host = runner.lookup("acked")
        if host is None:  # the host is being restarted already
            continue
        os.kill(host.pid, signal.SIGKILL)  # the instant run() returned
        wait_for(lambda: (loc := runner.lookup("acked")) is not None and loc.pid != host.pid, timeout=60)
        time.sleep(1.0)  # stay under the runner's restart intensity (10 restarts in 10 s)
    assert runner.await_idle("acked", timeout=60) == "idle"
    assert sorted(runner.get_results("acked")) == [2 * (1000 + i) for i in range(kills)]


def test_every_input_acknowledged_by_run_survives_a_sigkill_right_after(make_runner):
    _kill_after_every_ack(make_runner("mnesia", pool_size=1), kills=8)


@pytest.mark.slow
def test_every_acknowledged_input_survives_many_sigkills(make_runner):
    _kill_after_every_ack(make_runner("mnesia", pool_size=1), kills=40)


# ----------------------------------------------------------------------------- options

def test_resume_applies_run_context_and_policies_before_work_runs(make_runner, tmp_path):
    r = make_runner("mnesia")
    gate = tmp_path / "gate"
    wf = runic.workflow("rc", steps=[(runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated"),
                                      [runic.step(fns.tenant, name="who", context=["tenant"])])])
    r.start_workflow("rc", wf)
    r.run("rc", 1, run_context={"_global": {"tenant": "old"}})
    wait_for(lambda: r.worker_state("rc")["active_tasks"] == 1)
    r.stop("rc", persist=True)
    gate.touch()
    r.resume("rc", run_context={"_global": {"tenant": "acme"}})
    assert r.await_idle("rc", timeout=30) == "idle"
    assert r.get_results("rc", ["who"]) == {"who": "2@acme"}


def test_a_per_component_inline_policy_runs_on_the_host_loop_without_timeout(runner):
    wf = runic.workflow("inl", steps=[(runic.step(fns.thread_name, name="pooled"),
                                       [runic.step(fns.sleep_then_thread_name, name="inline")])])
    wf.add_scheduler_policy("inline", {"executor": "inline", "timeout_ms": 50})
    runner.start_workflow("inl", wf, input=1)
    assert runner.await_idle("inl", timeout=30) == "idle"  # the 50 ms timeout was not enforced
    res = runner.get_results("inl", ["pooled", "inline"])
    assert res["pooled"].startswith("runic-step")
    assert res["inline"].startswith("runic-host-loop")


# ----------------------------------------------------------------------------- store failures

@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs (root only): a disk that can be filled and freed again."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.system(f"mount -t tmpfs -o size=4m tmpfs {mnt}") != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        os.system(f"umount -l {mnt}")


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # every last block
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_stops_dispatch_tells_waiters_and_loses_nothing(make_runner, small_disk, tmp_path):
    from runic.runner import PersistenceError

    r = make_runner("mnesia", store_opts={"dir": str(small_disk / "data")}, pool_size=1)
    gate = tmp_path / "gate"
    wf = runic.workflow("disk", steps=[(runic.step(functools.partial(fns.big_after_gate, str(gate)), name="big"),
                                        [runic.step(len, name="size")])])
    r.start_workflow("disk", wf, input=1, store_retry_s=1.0)
    wait_for(lambda: r.worker_state("disk")["active_tasks"] == 1)
    filler = _fill(small_disk)
    gate.touch()  # the step finishes now; its result cannot be written
    state = wait_for(lambda: (s := r.worker_state("disk"))["persistence_status"]["status"] == "failing" and s)
    assert "full" in state["persistence_status"]["error"]
    assert state["active_tasks"] == 0  # nothing new was dispatched while the write fails
    with pytest.raises(PersistenceError, match="could not be persisted"):
        r.await_idle("disk", timeout=60)
    with pytest.raises(PersistenceError, match="not accepted"):
        r.run("disk", 2)
    filler.unlink()  # space is back: the Worker's retry writes everything and goes on
    assert r.await_idle("disk", timeout=60) == "idle"
    assert r.get_results("disk", ["size"]) == {"size": 300_001}
    assert r.worker_state("disk")["persistence_status"] == {"status": "ok"}


# ----------------------------------------------------------------------------- taken over

def test_a_runner_whose_workflow_is_taken_over_is_told_who_took_it(make_runner, tmp_path):
    from runic.runner import WorkflowTakenOverError

    a = make_runner("mnesia", name="shared", pool_size=1)
    gate = tmp_path / "gate"
    step = runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated")
    a.start_workflow("w", runic.workflow("w", steps=[(step, [runic.step(fns.double, name="d")])]), input=1)
    wait_for(lambda: a.worker_state("w")["active_tasks"] == 1)
    out: dict = {}

    def wait() -> None:
        try:
            out["status"] = a.await_idle("w", timeout=60)
        except Exception as exc:  # noqa: BLE001 - inspected below
            out["error"] = exc

    t = threading.Thread(target=wait)
    t.start()
    b = make_runner("mnesia", name="shared", recover="manual", pool_size=1)
    b.resume("w")  # B takes it over: A's next write is fenced
    gate.touch()
    t.join(60)
    assert isinstance(out.get("error"), WorkflowTakenOverError), out
    assert "shared.host-0" in str(out["error"])  # names the new owner
    assert b.await_idle("w", timeout=60) == "idle"
    assert b.get_results("w", ["d"]) == {"d": 4}
    wait_for(lambda: "w" not in a.list_workflows())


# ----------------------------------------------------------------------------- poison values

class LateRecord:
    """Registered with the codec only after the actor system started: its worker hosts and
    runner actor cannot decode it, as a store written by a newer or different program."""

    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


def test_a_stored_value_that_cannot_be_read_back_fails_its_workflow_not_the_host(make_runner, tmp_path):
    from runic.events import FactProduced
    from runic.facts import Fact

    r = make_runner("mnesia", pool_size=1)  # the actor system is up: its processes are forked
    codec.register(LateRecord, "tests.LateRecord")
    wf = runic.workflow("p", steps=[runic.step(fns.add1, name="a")])
    fact = Fact(LateRecord(1))
    with MnesiaStore(r.name, dir=tmp_path / "data") as store:
        store.acquire("poison", "test/writer")
        store.append("poison", wf.build_log() + [FactProduced(fact.hash, fact.value, None, "input", 0)],
                     status="running")
    host = r.tree()[-1]["pid"]
    with pytest.raises(WorkflowFailedError, match="cannot be read back"):
        r.resume("poison")
    assert r.status("poison") == "failed"
    [failure] = r.failures("poison")
    assert "tests.LateRecord" in failure.message and failure.component == "<stored events>"
    # the host and the Runner carry on
    assert procs.is_alive(host)
    r.start_workflow("fine", wf, input=1)
    assert r.await_idle("fine", timeout=30) == "idle"

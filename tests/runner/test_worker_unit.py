"""The Worker without any process: a fake port (:class:`~runic.runner.port.HostPort`) and a
``MemoryStore``, every step run by the test, every Worker call checked to hold the port's lock."""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any, Callable

import pytest

import runic
from runic import codec
from runic.driver import execute_with_policy
from runic.runner import worker as worker_module
from runic.runner.errors import PersistenceError, WorkflowTakenOverError
from runic.runner.executors import InlineExecutor
from runic.runner.port import DebugLock
from runic.runner.worker import Worker
from runic.store import MemoryStore, StoreError

from . import fns


class SyncExecutor:
    """Steps are queued by the port and run when the test says so."""

    name = "thread"
    inline = False
    attempt_runner = staticmethod(lambda r, timeout_s: r.reset().execute_tracked())


class FakePort:
    """A HostPort with no threads: the test runs queued steps, posts and timers explicitly."""

    def __init__(self, store: Any) -> None:
        self.host_id = "fake-host"
        self.store = store
        self.draining = False
        self.lock = DebugLock()
        self.work: deque = deque()
        self.posted: deque = deque()
        self.timers: list[tuple[float, Callable[[], Any]]] = []
        self.stopped: list[tuple[Any, str]] = []
        self.executors = {"thread": SyncExecutor(), "inline": InlineExecutor()}

    # -- the port
    def executor(self, name: str) -> Any:
        return self.executors[name]

    def submit_work(self, worker: Any, key: tuple, r: Any, policy: Any, executor: Any) -> None:
        self.work.append((worker, key, r, policy, executor))

    def post(self, fn: Callable[[], Any]) -> None:
        self.posted.append(fn)

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> None:
        self.timers.append((delay_s, fn))

    def on_loop_thread(self) -> bool:
        return True

    def worker_stopped(self, worker: Any, reason: str) -> None:
        self.stopped.append((worker.id, reason))
        waiting, worker.awaiters = worker.awaiters, []
        for notify in waiting:
            notify(worker)

    def assert_locked(self) -> None:
        assert self.lock.held(), "a Worker method ran without the port's lock"

    # -- driving it
    def run_step(self) -> None:
        worker, key, r, policy, executor = self.work.popleft()
        result, lifecycle = execute_with_policy(r, policy, attempt_runner=executor.attempt_runner)
        result = worker_module.unencodable(result)
        with self.lock:
            worker.on_result(key, result, lifecycle, 0)

    def run_all(self) -> None:
        while self.work or self.posted:
            if self.posted:
                fn = self.posted.popleft()
                with self.lock:
                    fn()
            else:
                self.run_step()

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for _delay, fn in timers:
            with self.lock:
                fn()


@pytest.fixture(autouse=True)
def assert_locks(monkeypatch):
    monkeypatch.setattr(worker_module, "DEBUG_LOCKS", True)


@pytest.fixture
def port():
    store = MemoryStore(f"unit-{uuid.uuid4().hex[:8]}")
    yield FakePort(store)
    store.close()


def chain() -> runic.Workflow:
    return runic.workflow("c", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])


def new_worker(port: FakePort, wf: runic.Workflow, wid: str = "w", **options: Any) -> Worker:
    epoch = port.store.acquire(wid, "test")
    with port.lock:
        return Worker(port, wid, wf, options, None, epoch)


def test_an_accepted_input_is_durable_before_anything_is_dispatched(port):
    w = new_worker(port, chain())
    with port.lock:
        w.accept(1)
    assert not port.work  # nothing dispatched yet
    stored = list(port.store.stream("w"))
    assert any(type(e).__name__ == "FactProduced" and e.producer_label == "input" for e in stored)
    assert port.store.status("w") == "running"
    with port.lock:
        w.pump()
    port.run_all()
    assert w.status == "idle" and port.store.status("w") == "idle"
    assert sorted(w.workflow.raw_productions()) == [2, 4]


def test_a_step_that_fails_for_good_settles_failed_with_its_record(port):
    w = new_worker(port, runic.workflow("f", steps=[runic.step(fns.boom, name="bad")]))
    with port.lock:
        w.run(1)
    port.run_all()
    assert w.status == "failed" and port.store.status("w") == "failed"
    err = w.failure_error()
    assert err is not None and "'bad'" in str(err) and "boom on 1" in str(err)
    with port.lock:  # the next input that succeeds... fails again here, and is judged alone
        w.run(2)
    port.run_all()
    assert [f.message for f in w.workflow.halted_failures(w.failure_mark)] == ["boom on 2"]


def test_a_result_that_cannot_be_persisted_fails_the_runnable(port):
    w = new_worker(port, runic.workflow("u", steps=[runic.step(fns.returns_opaque, name="make")]))
    with port.lock:
        w.run(1)
    port.run_all()
    assert w.status == "failed"
    [failure] = w.workflow.halted_failures()
    assert failure.error_type == "runic.codec.EncodeError" and "register" in failure.message


class FlakyStore(MemoryStore):
    """Appends fail while ``failing`` is set (a disk that is full)."""

    failing = False

    def append(self, *args: Any, **kwargs: Any) -> int:
        if self.failing:
            raise StoreError("disk full")
        return super().append(*args, **kwargs)


def test_a_failing_store_stops_dispatch_then_everything_is_written(port):
    port.store = FlakyStore(f"flaky-{uuid.uuid4().hex[:8]}")
    w = new_worker(port, chain(), store_retry_s=0.01)
    with port.lock:
        w.run(1)
    port.store.failing = True
    port.run_step()  # "a" completes; its write fails
    assert w.state()["persistence_status"]["status"] == "failing"
    assert not port.work and not port.posted  # "b" is not dispatched while the write fails
    assert port.timers  # a retry is armed
    waiting: list = []
    with port.lock:
        w.awaiters.append(lambda worker: waiting.append(worker.end_error))
    time.sleep(0.05)  # past store_retry_s (0.01 s)
    port.fire_timers()  # still failing: the waiter is told
    assert isinstance(waiting[0], PersistenceError)
    with port.lock, pytest.raises(PersistenceError):
        w.accept(5)  # not accepted while the store fails
    port.store.failing = False
    port.fire_timers()  # the retry writes everything and dispatches again
    port.run_all()
    assert w.status == "idle" and w.state()["persistence_status"] == {"status": "ok"}
    assert sorted(w.workflow.raw_productions()) == [2, 4]
    assert port.store.cursor("w") == w.event_cursor


def test_a_fenced_worker_stops_and_tells_who_took_over(port):
    w = new_worker(port, chain())
    with port.lock:
        w.run(1)
    port.store.acquire("w", "someone-else")  # another owner takes the workflow over
    told: list = []
    with port.lock:
        w.awaiters.append(lambda worker: told.append(worker.end_error))
    port.run_step()  # the next write is fenced
    assert w.stopped and port.stopped == [("w", "fenced")]
    assert isinstance(told[0], WorkflowTakenOverError) and "someone-else" in str(told[0])


def test_cancel_discards_what_is_in_flight(port):
    w = new_worker(port, chain())
    with port.lock:
        w.run(1)
    assert len(port.work) == 1  # "a" in flight
    with port.lock:
        w.cancel()
    assert port.store.status("w") == "cancelled" and port.stopped == [("w", "cancelled")]
    port.run_step()  # the abandoned attempt finishes: its result is discarded
    assert w.workflow.raw_productions() == [] and not port.work


def test_without_the_lock_a_worker_refuses_to_run(port):
    w = new_worker(port, chain())
    with pytest.raises(AssertionError, match="lock"):
        w.pump()


def test_codec_refuses_what_the_worker_would_refuse(port):
    with pytest.raises(codec.EncodeError):
        codec.dumps(fns.Opaque(1))

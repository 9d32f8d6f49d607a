"""Self-fencing without actors: the lease gate, the store behind it, the heartbeat that feeds it,
and a Worker that stops dispatching when it closes (a fake port, a MemoryStore)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import runic
from runic.runner.errors import SelfFencedError
from runic.runner.gate import FENCE_FRACTION, GatedStore, LeaseGate
from runic.runner.heartbeat import Heartbeat
from runic.runner.worker import Worker
from runic.store import MemoryStore, NodeFencedError, StoreError

from ..waiting import wait_for
from . import fns
from .test_worker_unit import FakePort


def test_the_gate_is_open_for_its_generation_until_the_deadline(tmp_path: Path) -> None:
    writer = LeaseGate(tmp_path / "g", create=True)
    host = LeaseGate(tmp_path / "g", generation=3)
    assert not host.open(), "a new gate is closed until a renewal is published"
    writer.publish(3, time.monotonic_ns() + 60 * 10**9)
    assert host.open()
    writer.publish(4, time.monotonic_ns() + 60 * 10**9)  # the node registered again
    host._until = 0  # (as after its cached deadline passed)
    assert not host.open(), "a host of the old generation stays fenced"
    host.adopt(4)
    assert host.open()
    writer.close_now(4)
    host._until = 0
    assert not host.open() and host.remaining_s() < 0
    writer.publish(4, time.monotonic_ns() + int(0.2 * 1e9))
    assert host.open()
    wait_for(lambda: not host.open(), timeout=30)  # the deadline passes by itself
    assert host.read() == (4, host.read()[1])


def test_a_reader_never_sees_a_generation_with_another_generation_s_deadline(tmp_path: Path) -> None:
    writer = LeaseGate(tmp_path / "g", create=True)
    reader = LeaseGate(tmp_path / "g", generation=1)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(reader.read())

    t = threading.Thread(target=read)
    t.start()
    for i in range(2000):  # generation g always carries deadline g * 1000
        writer.publish(i, i * 1000)
    stop.set()
    t.join()
    assert seen and all(d == g * 1000 for g, d in seen)


def test_a_closed_gate_refuses_every_write_and_lets_reads_through(tmp_path: Path) -> None:
    gate = LeaseGate(tmp_path / "g", create=True)
    gate.generation = 1
    store = MemoryStore(f"gate-{uuid.uuid4().hex[:6]}")
    gated = GatedStore(store, gate, "node-x")
    gate.publish(1, time.monotonic_ns() + 60 * 10**9)
    epoch = gated.acquire("w", "me")
    assert gated.append("w", [{"a": 1}], epoch=epoch) == 1
    gate.close_now(1)
    gate._until = 0
    for write in (lambda: gated.append("w", [{"a": 2}], epoch=epoch), lambda: gated.set_status("w", "idle"),
                  lambda: gated.acquire("w", "me"), lambda: gated.save_fact(7, "x"), lambda: gated.delete("w"),
                  lambda: gated.inbox_put("w", "run", {}), lambda: gated.checkpoint("w", [])):
        with pytest.raises(SelfFencedError) as err:
            write()
        assert isinstance(err.value, StoreError) and "node-x" in str(err.value)
    assert store.cursor("w") == 1 and list(gated.stream("w")) == [{"a": 1}] and gated.owner("w").epoch == epoch
    assert gated.streams is True  # attributes pass through
    store.drop_tables()


class FakeLeaseStore:
    """``renew_node`` as a store would answer it, with the expiry computed at the call's arrival;
    it can be told to block (a dead socket) or to refuse (the node was declared dead)."""

    def __init__(self) -> None:
        self.expiries: list[int] = []  # ns of CLOCK_MONOTONIC, as the store would compute them
        self.block = threading.Event()
        self.release = threading.Event()
        self.dead = False
        self.calls = 0

    def renew_node(self, node: str, generation: int, lease_s: float) -> int:
        self.calls += 1
        if self.block.is_set():
            self.release.wait(60)
        if self.dead:
            raise NodeFencedError(node, generation, generation, False, "t.Nodes")
        arrived = time.monotonic_ns()
        self.expiries.append(arrived + int(lease_s * 1e9))
        return arrived // 10**6


def test_the_heartbeat_closes_the_gate_before_the_lease_expires_even_when_a_renewal_blocks(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="runic.runner")
    gate = LeaseGate(tmp_path / "g", create=True)
    host = LeaseGate(tmp_path / "g", generation=1)
    store = FakeLeaseStore()
    fenced = threading.Event()
    hb = Heartbeat(store, "n", 1, 0.6, gate, fenced.set, sent_at_ns=time.monotonic_ns())
    hb.start()
    try:
        wait_for(lambda: len(store.expiries) >= 3, timeout=30)
        store.block.set()  # the next renewal hangs on a dead socket
        wait_for(lambda: not host.open(), timeout=30)  # the hosts' own deadline passes regardless
        generation, deadline = gate.read()
        # the deadline published after the last successful renewal comes before that renewal's
        # expiry as the store computed it: whoever takes over later, this node stopped first
        assert generation == 1 and deadline < store.expiries[-1]
        assert store.expiries[-1] - deadline >= int((1 - FENCE_FRACTION) * 0.6 * 1e9)
        assert not fenced.is_set()
        store.block.clear()
        store.release.set()  # the link heals: the renewal goes through, the gate opens again
        wait_for(lambda: host.open(), timeout=30)
        # the late renewal is in the log, with how long it took (what diagnoses a lost lease)
        assert any("renewing its lease took" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        hb.stop()
        store.release.set()
        hb.join(10)
    assert not hb.is_alive()


def test_a_node_declared_dead_closes_its_gate_at_once_and_waits_for_its_new_generation(tmp_path: Path) -> None:
    gate = LeaseGate(tmp_path / "g", create=True)
    old = LeaseGate(tmp_path / "g", generation=1)
    store = FakeLeaseStore()
    fenced = threading.Event()
    hb = Heartbeat(store, "n", 1, 30.0, gate, fenced.set, sent_at_ns=time.monotonic_ns())
    old._until = 0
    assert old.open()
    hb.lease_s = 0.3  # renew soon
    hb.start()
    try:
        store.dead = True
        wait_for(fenced.is_set, timeout=30)
        old._until = 0
        assert not old.open() and hb.fenced == 1
        calls = store.calls
        time.sleep(0.2)
        assert store.calls == calls, "a declared-dead generation is not renewed again"
        store.dead = False
        hb.follow(2)
        new = LeaseGate(tmp_path / "g", generation=2)
        wait_for(new.open, timeout=30)
        old._until = 0
        assert not old.open(), "the old generation's hosts stay fenced until they adopt the new one"
    finally:
        hb.stop()
        hb.join(10)


def test_a_worker_behind_a_closed_gate_starts_no_step_and_goes_on_once_it_opens(tmp_path: Path) -> None:
    gate = LeaseGate(tmp_path / "g", create=True)
    host_gate = LeaseGate(tmp_path / "g", generation=1)
    gate.publish(1, time.monotonic_ns() + 60 * 10**9)
    store = MemoryStore(f"gate-{uuid.uuid4().hex[:6]}")
    port = FakePort(GatedStore(store, host_gate, "n"))
    port.gate = host_gate  # type: ignore[attr-defined]
    wf = runic.workflow("w", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])
    with port.lock:
        w = Worker(port, "w", wf, {"checkpoint_strategy": "manual"}, None, store.acquire("w", "me"))
        w.run(1)
    assert len(port.work) == 1
    gate.close_now(1)
    host_gate._until = 0
    port.run_step()  # "a" finishes; "b" must not start while fenced
    assert not port.work and w.status == "running"
    with port.lock:
        assert not w.checkpoint("checkpoint")  # and nothing is written
    assert isinstance(w.persist_error, SelfFencedError)
    gate.publish(1, time.monotonic_ns() + 60 * 10**9)
    with port.lock:
        assert w.checkpoint("checkpoint")
        w.pump()  # what the host's watchdog does when the gate opens
    assert len(port.work) == 1
    port.run_step()
    assert w.status == "idle" and w.workflow.results(["b"]) == {"b": 4}
    store.drop_tables()

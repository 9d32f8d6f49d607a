"""``NodeLease`` without actors, on both local stores: generations, renewal, release, local
death detection and orphans."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runic.actors import procs
from runic.runner.lease import NodeLease
from runic.store import MemoryStore, MnesiaStore, NodeFencedError


@pytest.fixture(params=["memory", "mnesia"])
def store(request, tmp_path):
    s = MemoryStore(f"lease-{os.getpid()}-{request.node.name}") if request.param == "memory" \
        else MnesiaStore("lease", dir=tmp_path / "data")
    yield s
    s.close()


def me() -> tuple[int, int | None]:
    return os.getpid(), procs.start_time(os.getpid())


def test_a_restarted_runner_actor_keeps_its_generation_a_new_runner_gets_a_new_one(store):
    first = NodeLease(store, "n", 5.0, me(), "r", "instance-1")
    g1 = first.start()
    again = NodeLease(store, "n", 5.0, me(), "r", "instance-1")  # the same Runner, its actor restarted
    assert again.start() == g1
    other = NodeLease(store, "n", 5.0, me(), "r", "instance-2")  # a new Runner under the same name
    g2 = other.start()
    assert g2 > g1
    with pytest.raises(NodeFencedError):
        first.renew()  # the older generation is fenced
    assert other.renew() > 0


def test_release_and_orphans(store):
    lease = NodeLease(store, "a", 5.0, me(), "r", "i")
    gen = lease.start()
    store.acquire("w1", "a/host", node="a", generation=gen)
    store.set_status("w1", "running")
    store.acquire("w2", "?/host")  # no node recorded: unknown owner
    store.set_status("w2", "running")
    other = NodeLease(store, "b", 5.0, me(), "r", "j")
    other.start()
    assert other.orphans(held=set()) == ["w2"]  # a is alive: w1 is not free
    assert other.orphans(held={"w2"}) == []
    assert lease.mine() == ["w1"]
    lease.release()
    assert sorted(other.orphans(held=set())) == ["w1", "w2"]


def test_a_node_of_this_machine_whose_process_is_gone_is_declared_dead_at_once(store):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(child.stdout)
    dead = NodeLease(store, "gone", 60.0, (gone, None), "r", "x")  # a long lease: not expired
    gen = dead.start()
    store.acquire("w", "gone/host", node="gone", generation=gen)
    store.set_status("w", "running")
    alive = NodeLease(store, "alive", 60.0, me(), "r", "y")
    alive.start()
    assert alive.orphans(held=set()) == ["w"]
    assert not {n["node"]: n for n in store.nodes()}["gone"]["alive"]
    assert {n["node"]: n for n in store.nodes()}["alive"]["alive"]  # this process lives: not reaped

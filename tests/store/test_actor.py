"""The store actor under a real supervisor in a real actor system."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from runic.actors import ActorSystemHandle
from runic.store import MemoryStore, MnesiaStore, StoreArgumentError
from runic.store.actor import StoreActor, StoreInfo, StoreInfoReply
from runic.store.mnesia import RAM_DB_FILE
from runic.supervisor import ChildSpec, Supervisor, SupervisorStartError

DEADLINE = 20.0


def wait_until(pred: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE} s waiting for {what}")
        time.sleep(0.01)


def store_child(sup: Supervisor, old_pid: int | None = None) -> Any:
    def ok() -> Any:
        (c,) = sup.which_children()
        return c if c.status == "running" and c.pid and c.pid != old_pid else None

    return wait_until(ok, "the store child running")


def info(system: ActorSystemHandle, address: Any) -> StoreInfoReply:
    reply = system.ask(address, StoreInfo(ref=1), 10)
    assert isinstance(reply, StoreInfoReply), reply
    return reply


def test_child_specs() -> None:
    spec = MnesiaStore.child_spec({"runner_name": "app", "disc_copies": False})
    assert isinstance(spec, ChildSpec)
    assert spec.id == "app.Store" and spec.restart == "permanent" and spec.type == "worker"
    # the spec names the actor and the store class by path: no store module imports the actor
    assert spec.start == ("runic.store.actor:StoreActor",
                          {"store": "runic.store.mnesia:MnesiaStore", "runner_name": "app", "disc_copies": False})
    assert spec.actor_class() is StoreActor
    mem = MemoryStore.child_spec({"runner_name": "app"})
    assert mem.id == "app.Store"
    assert mem.start == ("runic.store.actor:StoreActor", {"store": "runic.store.memory:MemoryStore", "runner_name": "app"})
    with pytest.raises(StoreArgumentError):
        MnesiaStore.child_spec({"disc_copies": True})


def test_disc_tables_keep_answering_while_the_store_actor_restarts(
        actor_system: ActorSystemHandle, tmp_path: Path) -> None:
    d = tmp_path / "data"
    sup = Supervisor.start_link([(MnesiaStore, {"runner_name": "app", "dir": d})],
                                system=actor_system, name="app")
    try:
        child = store_child(sup)
        assert child.id == "app.Store"
        assert child.info["role"] == "store" and child.info["storage_type"] == "disc_copies"
        assert child.info["path"] == str(d / "runic.db")
        assert "app.WorkflowStore" in child.info["tables"]
        # from Runic's store tests: the store process creates its tables (before anyone else opened the store)
        conn = sqlite3.connect(d / "runic.db")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        conn.close()
        assert {"runic_meta", "app.WorkflowStore", "app.EventStream", "app.EventCounters",
                "app.FactStore"} <= names
        with MnesiaStore("app", dir=d) as s:
            s.append("wf", ["a", "b"])
            assert info(actor_system, child.address).sizes["app.EventStream"] == 2
            os.kill(child.pid, signal.SIGKILL)
            # the tables answer while the actor is dead and being restarted
            assert s.append("wf", ["c"]) == 3
            assert list(s.stream("wf")) == ["a", "b", "c"]
            new = store_child(sup, old_pid=child.pid)
            assert sup.which_children()[0].restarts == 1
            assert info(actor_system, new.address).sizes["app.EventStream"] == 3
            assert s.append("wf", ["d"]) == 4
    finally:
        sup.stop()


def test_ram_tables_are_shared_by_the_system_survive_a_store_restart_and_die_with_it(
        actor_system: ActorSystemHandle) -> None:
    sup = Supervisor.start_link([(MnesiaStore, {"runner_name": "app", "disc_copies": False})],
                                system=actor_system, name="app")
    try:
        child = store_child(sup)
        ram_file = actor_system.scratch_dir / RAM_DB_FILE
        assert child.info["storage_type"] == "ram_copies"
        assert child.info["path"] == str(ram_file)
        with MnesiaStore("app", disc_copies=False) as s:  # the driver is part of the system
            assert s.path == str(ram_file)
            assert s.table_info("EventStream", "storage_type") == "ram_copies"
            s.append("wf", ["a", "b", "c"])
            s.save_fact(2**64 - 1, "v")
            # another process of the system (the store actor) sees what the driver wrote
            assert info(actor_system, child.address).sizes["app.EventStream"] == 3
            os.kill(child.pid, signal.SIGKILL)
            assert s.append("wf", ["d"]) == 4
            new = store_child(sup, old_pid=child.pid)
            sizes = info(actor_system, new.address).sizes
            assert sizes["app.EventStream"] == 4 and sizes["app.FactStore"] == 1
            assert list(s.stream("wf")) == ["a", "b", "c", "d"]
    finally:
        sup.stop()
    actor_system.shutdown()
    assert not ram_file.exists()
    with MnesiaStore("app", disc_copies=False) as s:  # outside the stopped system now
        assert s.path is None
        assert not s.exists("wf")
        s.drop_tables()


def test_memory_tables_live_in_the_store_actor_and_die_with_it(
        actor_system: ActorSystemHandle) -> None:
    sup = Supervisor.start_link([(MemoryStore, {"runner_name": "mem"})],
                                system=actor_system, name="mem")
    try:
        child = store_child(sup)
        assert child.info["kind"] == "memory" and child.info["storage_type"] == "ram_copies"
        reply = info(actor_system, child.address)
        assert reply.pid == child.pid and reply.sizes["mem.StoreEvents"] == 0
        os.kill(child.pid, signal.SIGKILL)
        new = store_child(sup, old_pid=child.pid)
        assert info(actor_system, new.address).pid == new.pid
    finally:
        sup.stop()


def test_a_store_that_cannot_open_fails_the_start(actor_system: ActorSystemHandle,
                                                  tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    (d / "runic.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SupervisorStartError) as err:
        Supervisor.start_link([(MnesiaStore, {"runner_name": "app", "dir": d})],
                              system=actor_system, name="app", max_restarts=0)
    assert str(d / "runic.db") in str(err.value)

"""Adapter-specific behaviour: MnesiaStore's tables, options and file; MemoryStore's scope."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from runic.store import (
    MemoryStore,
    MnesiaStore,
    NotFoundError,
    StoreArgumentError,
    StoreClosedError,
)
from runic.store import mnesia
from runic.store.mnesia import DB_FILE

MNESIA_TABLES = {
    "WorkflowStore": ("set", ["workflow_id", "log", "updated_at"]),
    "EventStream": ("ordered_set", ["key", "event"]),
    "EventCounters": ("set", ["workflow_id", "count"]),
    "FactStore": ("set", ["fact_hash", "value"]),
    "SnapshotStore": ("set", ["workflow_id", "cursor", "snapshot", "updated_at"]),
    "WorkflowStatus": ("set", ["workflow_id", "owner", "epoch", "status", "updated_at", "node", "generation"]),
    "Nodes": ("set", ["node", "generation", "alive", "lease_expires_at", "info"]),
}


# ----------------------------------------------------------------------------- MnesiaStore

def test_table_info_answers_like_mnesia(tmp_path: Path) -> None:
    # from Runic's Mnesia store tests: the snapshot table is a set with attributes [workflow_id, log, updated_at]
    with MnesiaStore("app", dir=tmp_path) as s:
        assert s.table_info("app.WorkflowStore", "type") == "set"
        assert s.table_info("app.WorkflowStore", "attributes") == ["workflow_id", "log", "updated_at"]
        assert s.table_info("WorkflowStore", "storage_type") == "disc_copies"
        for short, (kind, attrs) in MNESIA_TABLES.items():
            assert s.table_info(short, "type") == kind
            assert s.table_info(f"app.{short}", "attributes") == attrs
        s.append("wf", [1, 2, 3])
        assert s.table_info("EventStream", "size") == 3
        assert s.table_info("EventCounters", "all") == {
            "name": "app.EventCounters", "type": "set", "attributes": ["workflow_id", "count"],
            "storage_type": "disc_copies", "size": 0,  # schema 3: a counter only marks an empty stream
        }
        s.append("empty", [])
        assert s.table_info("EventCounters", "size") == 1 and s.table_info("EventStream", "size") == 3
        with pytest.raises(StoreArgumentError):
            s.table_info("WorkflowStore", "arity")
        with pytest.raises(NotFoundError):
            s.table_info("NoSuchTable", "type")
    with MnesiaStore("app", disc_copies=False) as ram:
        # from Runic's Mnesia store tests: RAM-only tables live on the local node
        assert ram.table_info("WorkflowStore", "storage_type") == "ram_copies"
        ram.drop_tables()


def test_the_file_holds_every_runners_tables_under_derived_names(tmp_path: Path) -> None:
    with MnesiaStore("app", dir=tmp_path) as a, MnesiaStore("other.runner", dir=tmp_path) as b:
        a.save("wf", ["a"])
        b.save("wf", ["b"])
        assert a.load("wf") == ["a"] and b.load("wf") == ["b"]
    conn = sqlite3.connect(tmp_path / DB_FILE)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    registered = conn.execute("SELECT name, type, storage_type FROM runic_tables WHERE runner='app'").fetchall()
    conn.close()
    for runner in ("app", "other.runner"):
        assert {f"{runner}.{t}" for t in MNESIA_TABLES} <= names
    assert {"runic_meta", "runic_tables"} <= names
    assert ("app.EventStream", "ordered_set", "disc_copies") in registered


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    with MnesiaStore("app", dir=tmp_path) as s:
        s.append("wf", ["a"])
        s.save_fact(2**63, "big")
        e = s.acquire("wf", "me")
        s.set_status("wf", "idle", epoch=e)
    with MnesiaStore("app", dir=tmp_path) as s:
        assert list(s.stream("wf")) == ["a"]
        assert s.load_fact(2**63) == "big"
        assert s.owner("wf") == ("me", e) and s.list_status() == {"wf": "idle"}
        assert s.acquire("wf", "next") > e
    conn = sqlite3.connect(tmp_path / DB_FILE)  # the hash is stored as a signed 64-bit int
    assert conn.execute('SELECT fact_hash FROM "app.FactStore"').fetchone()[0] == -(2**63)
    conn.close()


def test_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNIC_DATA_DIR", str(tmp_path / "from-env"))
    with MnesiaStore("app") as s:
        assert s.path == str(tmp_path / "from-env" / DB_FILE)
    monkeypatch.delenv("RUNIC_DATA_DIR")
    monkeypatch.setenv("RUNIC_NODE", "node-a")
    monkeypatch.chdir(tmp_path)
    with MnesiaStore("app") as s:
        assert s.path == str(tmp_path / "runic-data" / "node-a" / DB_FILE)
        assert mnesia.local_node() == "node-a"
    assert (tmp_path / "runic-data" / "node-a" / DB_FILE).exists()


def test_durability_modes_set_sqlite_synchronous(tmp_path: Path) -> None:
    def synchronous(store: MnesiaStore) -> int:
        return store._dbh.conn.execute("PRAGMA synchronous").fetchone()[0]

    with MnesiaStore("app", dir=tmp_path) as normal, \
            MnesiaStore("app", dir=tmp_path, durability="fsync") as full:
        assert synchronous(normal) == 1 and synchronous(full) == 2  # NORMAL, FULL
        assert normal._dbh.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        normal.append("wf", ["a"])
        full.append("wf", ["b"])  # both modes on one file, serialised
        assert list(normal.stream("wf")) == ["a", "b"]
    with MnesiaStore("app", disc_copies=False) as ram:
        assert synchronous(ram) == 0
        ram.drop_tables()


def test_ram_handles_in_one_process_share_tables_and_outlive_them(runner_name: str) -> None:
    a = MnesiaStore(runner_name, disc_copies=False)
    a.save("wf", [1])
    a.close()  # the tables live as long as the process, not the handle
    with MnesiaStore(runner_name, disc_copies=False) as b:
        assert b.path is None and b.load("wf") == [1]
        seen = []
        t = threading.Thread(target=lambda: seen.append(MnesiaStore(runner_name, disc_copies=False).load("wf")))
        t.start()
        t.join()
        assert seen == [[1]]
        b.drop_tables()


def test_dropped_tables_answer_a_clear_error(tmp_path: Path) -> None:
    a = MnesiaStore("app", dir=tmp_path)
    b = MnesiaStore("app", dir=tmp_path)
    a.save("wf", [1])
    a.drop_tables()
    with pytest.raises(Exception) as info:
        b.load("wf")
    assert "drop_tables" in str(info.value)
    b.close()
    with MnesiaStore("app", dir=tmp_path) as c:
        assert c.list() == []


# ----------------------------------------------------------------------------- MemoryStore

def test_memory_tables_are_named_like_ets_and_shared_by_name(runner_name: str) -> None:
    a = MemoryStore(runner_name)
    b = MemoryStore(runner_name)
    try:
        assert a.table_names["logs"] == f"{runner_name}.StoreTable"
        assert a.table_info("StoreEvents", "type") == "ordered_set"
        assert a.table_info("StoreTable", "storage_type") == "ram_copies"
        a.save("wf", [1])
        assert b.load("wf") == [1]
        a.close()
        assert b.load("wf") == [1]  # closing a handle keeps the tables
    finally:
        MemoryStore.drop(runner_name)


def test_dropped_memory_tables(runner_name: str) -> None:
    a = MemoryStore(runner_name)
    a.save("wf", [1])
    assert MemoryStore.drop(runner_name) is True
    assert MemoryStore.drop(runner_name) is False
    with pytest.raises(StoreClosedError):
        a.load("wf")
    with MemoryStore(runner_name) as fresh:
        assert fresh.list() == []
        fresh.drop_tables()

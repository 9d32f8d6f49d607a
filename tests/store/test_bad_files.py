"""MnesiaStore faced with bad files and directories: each case raises a runic.store exception
that names the file and says what to do, and leaves what was stored untouched."""

from __future__ import annotations

import ctypes
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

import runic
from runic.store import (
    CorruptStoreError,
    ForeignStoreError,
    MnesiaStore,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreError,
)
from runic.store import mnesia, schema
from runic.store.mnesia import DB_FILE, SCHEMA_VERSION

from .conftest import Proc


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def filled_store(d: Path, events: int = 3000) -> Path:
    """A closed store (WAL checkpointed into the main file) with ``events`` events."""
    with MnesiaStore("app", dir=d) as s:
        for i in range(0, events, 100):
            s.append("wf", [{"i": j, "pad": "x" * 100} for j in range(i, i + 100)])
        s.save("wf", ["log"])
    assert not (d / (DB_FILE + "-wal")).exists()
    return d / DB_FILE


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    path = d / DB_FILE
    path.write_bytes(os.urandom(8192))
    before = digest(path)
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=d)
    msg = str(info.value)
    assert str(path) in msg and "not a SQLite database" in msg and "Move it away" in msg
    assert info.value.path == str(path)
    assert isinstance(info.value, runic.RunicError)
    assert digest(path) == before


def test_a_file_cut_below_its_header(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "data")
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=tmp_path / "data")
    assert str(path) in str(info.value)


def test_a_truncated_database(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "data")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = digest(path)
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=tmp_path / "data")
    msg = str(info.value)
    assert str(path) in msg and "truncated" in msg and "backup" in msg
    assert digest(path) == before


def test_a_damaged_page_is_reported_on_read_and_by_the_integrity_check(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "data")
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = b"\xff" * page  # one page of the event table, overwritten
    path.write_bytes(bytes(data))
    with MnesiaStore("app", dir=tmp_path / "data") as s:
        with pytest.raises(CorruptStoreError) as info:
            list(s.stream("wf"))
        assert str(path) in str(info.value) and "recover" in str(info.value)
        with pytest.raises(CorruptStoreError):
            s.check_integrity()


def test_a_foreign_sqlite_database(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    path = d / DB_FILE
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ForeignStoreError) as info:
        MnesiaStore("app", dir=d)
    msg = str(info.value)
    assert str(path) in msg and "did not create" in msg and "dir=" in msg
    assert digest(path) == before


def test_a_database_of_another_application(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    conn = sqlite3.connect(d / DB_FILE)
    conn.execute("PRAGMA application_id=12345")
    conn.close()
    with pytest.raises(ForeignStoreError):
        MnesiaStore("app", dir=d)


def test_a_file_from_a_newer_schema_version(tmp_path: Path) -> None:
    d = tmp_path / "data"
    path = filled_store(d, events=100)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runic_meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(SchemaVersionError) as info:
        MnesiaStore("app", dir=d)
    err = info.value
    assert (err.found, err.supported, err.path) == (SCHEMA_VERSION + 1, SCHEMA_VERSION, str(path))
    assert str(path) in str(err) and "Upgrade runic" in str(err)
    assert digest(path) == before
    # nothing was lost: with the version put back, everything is there
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runic_meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION,))
    conn.commit()
    conn.close()
    with MnesiaStore("app", dir=d) as s:
        assert s.cursor("wf") == 100 and s.load("wf") == ["log"]


def test_the_schema_version_is_recorded(tmp_path: Path) -> None:
    with MnesiaStore("app", dir=tmp_path) as s:
        meta = s.meta()
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["codec_version"] == runic.codec.CODEC_VERSION
    assert meta["created_by"] == f"runic {runic.__version__}"
    conn = sqlite3.connect(tmp_path / DB_FILE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == mnesia.APPLICATION_ID
    conn.close()


def test_an_older_schema_is_migrated_or_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "data"
    filled_store(d, events=100)
    monkeypatch.setattr(mnesia, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(SchemaVersionError) as info:  # no migration registered
        MnesiaStore("app", dir=d)
    assert "no migration" in str(info.value)

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute('ALTER TABLE "app.WorkflowStore" ADD COLUMN note TEXT')

    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION, add_column)
    with MnesiaStore("app", dir=d) as s:
        assert s.meta()["schema_version"] == SCHEMA_VERSION + 1
        assert s.cursor("wf") == 100 and s.load("wf") == ["log"]
    conn = sqlite3.connect(d / DB_FILE)
    cols = [r[1] for r in conn.execute('PRAGMA table_info("app.WorkflowStore")')]
    conn.close()
    assert "note" in cols


def _without_root_override() -> None:
    """In the child: drop CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH so permissions apply to root."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # PR_CAPBSET_DROP = 24
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_directory(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = spawn("open", ro / "data", "app", preexec_fn=_without_root_override)
        (result,) = proc.lines()
        assert proc.wait() == 0, proc.stderr()
    finally:
        ro.chmod(0o755)
    assert result["error"] == "StoreAccessError"
    assert str(ro / "data") in result["message"] and "writable" in result["message"]
    assert issubclass(StoreAccessError, PermissionError) and issubclass(StoreAccessError, StoreError)


def test_an_existing_store_in_a_read_only_directory(tmp_path: Path,
                                                    spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    path = filled_store(d, events=100)
    d.chmod(0o555)
    path.chmod(0o444)
    try:
        proc = spawn("open", d, "app", preexec_fn=_without_root_override)
        (result,) = proc.lines()
        assert proc.wait() == 0, proc.stderr()
    finally:
        d.chmod(0o755)
        path.chmod(0o644)
    assert result["error"] == "StoreAccessError"
    assert str(d) in result["message"]
    with MnesiaStore("app", dir=d) as s:  # the data is intact
        assert s.cursor("wf") == 100 and s.load("wf") == ["log"]
        assert not s.exists("probe")


def test_other_nodes_are_database_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # remote nodes put the tables on PostgreSQL (tests/store/test_postgres.py); a host that
    # does not exist is an error naming it, in the caller, within the connect timeout
    pytest.importorskip("psycopg")
    from runic.store import StoreUnavailableError

    monkeypatch.delenv("RUNIC_DATABASE_URL", raising=False)
    with pytest.raises(StoreUnavailableError) as info:
        MnesiaStore("app", dir=tmp_path, nodes=["db.elsewhere.invalid:5432"], connect_timeout=2)
    assert isinstance(info.value, runic.RunicError)
    assert "db.elsewhere.invalid:5432" in str(info.value)
    with MnesiaStore("app", dir=tmp_path, nodes=[mnesia.local_node()]) as s:
        s.save("wf", [1])


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreArgumentError):
        MnesiaStore("app", dir=tmp_path, durability="sometimes")
    with pytest.raises(StoreArgumentError):
        MnesiaStore("app", dir=tmp_path, busy_timeout=0)

"""A store file written by runic 0.1.0 (schema 1) is upgraded in place and reads back whole.

``data/store_v1.db.gz`` was written by ``data/make_store_v1.py`` with the code of runic 0.1.0
(commit 3e443a0, before schema 2 existed); ``expected()`` there describes every value in it.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from runic.store import MnesiaStore, SchemaVersionError
from runic.store.mnesia import DB_FILE, SCHEMA_VERSION
from runic.store.checksum import blob_crc, key_seed, row_crc

DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))
from make_store_v1 import RUNNERS, expected  # noqa: E402

sys.path.remove(str(DATA))


@pytest.fixture
def v1_dir(tmp_path: Path) -> Path:
    d = tmp_path / "v1"
    d.mkdir()
    with gzip.open(DATA / "store_v1.db.gz", "rb") as src, open(d / DB_FILE, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return d


def test_the_fixture_is_a_schema_1_file(v1_dir: Path) -> None:
    conn = sqlite3.connect(v1_dir / DB_FILE)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT value FROM runic_meta WHERE key='schema_version'").fetchone()[0] == 1
        cols = [r[1] for r in conn.execute('PRAGMA table_info("app.EventStream")')]
        assert cols == ["workflow_id", "seq", "event"]
    finally:
        conn.close()


def test_a_v1_store_is_upgraded_in_place_and_reads_back_whole(v1_dir: Path) -> None:
    assert SCHEMA_VERSION >= 2
    for runner in RUNNERS:
        want = expected(runner)
        with MnesiaStore(runner, dir=v1_dir) as s:
            assert s.meta()["schema_version"] == SCHEMA_VERSION
            for wid, events in want["events"].items():
                assert list(s.stream(wid)) == events, (runner, wid)
                assert s.cursor(wid) == len(events)
            for wid, log in want["logs"].items():
                assert s.load(wid) == log
            assert sorted(s.list(), key=repr) == sorted(want["logs"], key=repr)
            for wid, snap in want["snapshots"].items():
                assert s.load_snapshot(wid) == snap
            assert s.load_facts(list(want["facts"])) == want["facts"]
            for h, value in want["facts"].items():
                assert s.load_fact(h) == value
            assert s.list_status() == want["status"]
            for wid, (owner, epoch) in want["owners"].items():
                ownership = s.owner(wid)
                assert ownership == (owner, epoch) and ownership.node is None
            # epochs keep growing past the old ones; new writes work in the new layout
            assert s.acquire("order-1", "new-owner") > max(e for _, e in want["owners"].values())
            assert s.append("order-1", ["after the upgrade"]) == len(want["events"]["order-1"]) + 1
            assert s.orphans() == ["order-1"]  # running, and no owner node was ever recorded
            assert s.register_node("n", 10.0) == 1
            s.check_integrity()


def test_upgraded_rows_carry_checksums_of_their_bytes(v1_dir: Path) -> None:
    MnesiaStore("app", dir=v1_dir).close()
    conn = sqlite3.connect(v1_dir / DB_FILE)
    try:
        rows = conn.execute('SELECT workflow_id, event, crc FROM "app.EventStream"').fetchall()
        rows = conn.execute('SELECT workflow_id, seq, batch, event, crc FROM "app.EventStream"').fetchall()
        # schema 3: the checksum covers the row's first sequence number and its event count
        assert rows and all(crc == row_crc(seq, batch, blob, key_seed(wid)) and batch == 0
                            for wid, seq, batch, blob, crc in rows)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        facts = conn.execute('SELECT owner, pinned FROM "app.FactStore"').fetchall()
        assert facts and set(facts) == {(None, 0)}  # unowned: gc may collect them when unreferenced
    finally:
        conn.close()


def test_the_upgrade_runs_once_for_every_runner_of_the_file(v1_dir: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="runic.store")
    with MnesiaStore("app", dir=v1_dir) as a:
        migrated = [r.getMessage() for r in caplog.records if "migrat" in r.getMessage()]
        assert any("from schema 1 to 2" in m for m in migrated)
        assert sum("migrated the tables of runner" in m and "schema 2" in m for m in migrated) == len(RUNNERS)
        assert sum("migrated the tables of runner" in m and "schema 3" in m for m in migrated) == len(RUNNERS)
        caplog.clear()
        with MnesiaStore("other.runner", dir=v1_dir) as b:  # already upgraded, with a's
            assert b.cursor(("tuple", 2)) == 5
        assert a.cursor("order-1") == 40
    with MnesiaStore("app", dir=v1_dir):
        pass
    assert not [r for r in caplog.records if "migrat" in r.getMessage()]


def test_a_newer_store_is_still_refused(v1_dir: Path) -> None:
    conn = sqlite3.connect(v1_dir / DB_FILE)
    conn.execute("UPDATE runic_meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    before = (v1_dir / DB_FILE).read_bytes()
    with pytest.raises(SchemaVersionError) as info:
        MnesiaStore("app", dir=v1_dir)
    assert info.value.found == SCHEMA_VERSION + 1 and "Upgrade runic" in str(info.value)
    assert (v1_dir / DB_FILE).read_bytes() == before

"""A store file written with schema 2 (one row per event) is upgraded in place to schema 3 (one
row per append) and reads back whole; it then takes appends in the new layout.

``data/store_v2.db.gz`` was written by ``data/make_store_v2.py`` with the code of commit 1cc1993
(schema 2); ``expected()`` there describes every value in it.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from runic.store import MnesiaStore
from runic.store.checksum import key_seed, row_crc
from runic.store.mnesia import DB_FILE, SCHEMA_VERSION

DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))
from make_store_v2 import RUNNERS, events_of, expected  # noqa: E402

sys.path.remove(str(DATA))


@pytest.fixture
def v2_dir(tmp_path: Path) -> Path:
    d = tmp_path / "v2"
    d.mkdir()
    with gzip.open(DATA / "store_v2.db.gz", "rb") as src, open(d / DB_FILE, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return d


def test_the_fixture_is_a_schema_2_file(v2_dir: Path) -> None:
    conn = sqlite3.connect(v2_dir / DB_FILE)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        cols = [r[1] for r in conn.execute('PRAGMA table_info("app.EventStream")')]
        assert cols == ["workflow_id", "seq", "event", "crc"]
    finally:
        conn.close()


def test_a_v2_store_is_upgraded_in_place_and_reads_back_whole(v2_dir: Path) -> None:
    assert SCHEMA_VERSION == 3
    for runner in RUNNERS:
        want = expected(runner)
        with MnesiaStore(runner, dir=v2_dir) as s:
            assert s.meta()["schema_version"] == 3
            for wid in want["appends"]:
                events = events_of(want, wid)
                assert list(s.stream(wid)) == events, (runner, wid)
                assert s.cursor(wid) == len(events) and s.exists(wid)
                assert list(s.stream(wid, start=2)) == events[1:]
            for owned in want["owned_facts"].values():
                assert s.load_facts(list(owned)) == owned
            assert s.load_facts(list(want["facts"])) == want["facts"]
            for wid, log in want["logs"].items():
                assert s.load(wid) == log
            for wid, snap in want["snapshots"].items():
                assert s.load_snapshot(wid) == snap
            assert s.list_status() == want["status"]
            for wid, (owner, epoch) in want["owners"].items():
                ownership = s.owner(wid)
                assert ownership == (owner, epoch) and ownership.node == want["node"][0]
            assert [n["node"] for n in s.nodes()] == [want["node"][0]]
            # new appends continue the old streams, in the new layout, fenced as before
            epoch = s.acquire("order-1", "new-owner")
            n = len(events_of(want, "order-1"))
            assert s.append("order-1", ["a", "b"], epoch=epoch) == n + 2
            assert s.append("order-1", ["c"], epoch=epoch) == n + 3
            assert list(s.stream("order-1", start=n)) == [events_of(want, "order-1")[-1], "a", "b", "c"]
            assert s.append("empty", ["first"]) == 1 and list(s.stream("empty")) == ["first"]
            s.check_integrity()


def test_upgraded_rows_are_one_event_rows_whose_checksums_cover_their_place(v2_dir: Path) -> None:
    MnesiaStore("app", dir=v2_dir).close()
    conn = sqlite3.connect(v2_dir / DB_FILE)
    try:
        rows = conn.execute('SELECT workflow_id, seq, batch, event, crc FROM "app.EventStream"').fetchall()
        assert len(rows) == sum(len(events_of(expected("app"), w)) for w in expected("app")["appends"])
        assert all(batch == 0 and crc == row_crc(seq, 0, blob, key_seed(wid)) for wid, seq, batch, blob, crc in rows)
        # counters that agree with their events are gone; the empty stream keeps its marker
        assert conn.execute('SELECT workflow_id, count FROM "app.EventCounters"').fetchall() == [("empty", 0)]
    finally:
        conn.close()


def test_a_moved_event_row_of_an_upgraded_file_is_an_error(v2_dir: Path) -> None:
    """The upgraded checksum covers the sequence number: a row moved to another place fails."""
    MnesiaStore("app", dir=v2_dir).close()
    conn = sqlite3.connect(v2_dir / DB_FILE)
    try:
        conn.execute('UPDATE "app.EventStream" SET seq = 100 WHERE workflow_id = ? AND seq = 30', ("order-1",))
        conn.commit()
    finally:
        conn.close()
    from runic.store import CorruptStoreError

    with MnesiaStore("app", dir=v2_dir) as s, pytest.raises(CorruptStoreError):
        list(s.stream("order-1"))

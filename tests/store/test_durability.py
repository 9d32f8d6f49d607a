"""kill -9 of real writer processes, then a real reopen of the store file.

The writer (``_worker.py append``) acknowledges each append on a pipe only after the call
returned. After SIGKILL, reopening must show every acknowledged append, a counter equal to the
events present, no gaps, every event intact, and a store that accepts new appends.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Callable

import pytest

from runic.store import MnesiaStore
from runic.store.mnesia import DB_FILE

from .conftest import Proc


def read_acks(proc: Proc, at_least: int) -> list[int]:
    acks: list[int] = []
    while len(acks) < at_least:
        item = proc.line()
        assert item is not None, proc.stderr()
        if "ack" in item:
            acks.append(item["ack"])
    return acks


def kill_and_drain(proc: Proc, acks: list[int]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    for item in proc.lines():  # acks already in the pipe when it died
        if "ack" in item:
            acks.append(item["ack"])
    assert proc.wait() == -signal.SIGKILL


def verify(d: Path, wf: str, tag: str, k: int, acks: list[int]) -> int:
    """Reopen and check the stream of ``wf``; return its counter."""
    last = acks[-1]
    assert acks == sorted(acks) and len(set(acks)) == len(acks)
    with MnesiaStore("app", dir=d) as s:
        s.check_integrity()
        counter = s.cursor(wf)
        # every acknowledged append is present; at most the one in flight committed unacked
        assert last <= counter <= last + k
        events = list(s.stream(wf))
        assert len(events) == counter
        assert events == [[tag, i // k, i % k] for i in range(counter)]
        # no rows beyond the counter
        raw = sqlite3.connect(d / DB_FILE)
        try:
            # (schema 3: one row per append, keyed by its first event; ``batch`` events in it)
            rows = raw.execute('SELECT sum(max(batch, 1)), max(seq + max(batch, 1) - 1) FROM "app.EventStream" '
                               'WHERE workflow_id=?',
                               (wf,)).fetchone()
        finally:
            raw.close()
        assert rows == (counter, counter)
        # and the store goes on
        assert s.append(wf, [["after", 0, 0]]) == counter + 1
    return counter


@pytest.mark.parametrize("k", [1, 10])
def test_kill_9_mid_append_loses_no_acknowledged_append(tmp_path: Path, k: int,
                                                        spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    writer = spawn("append", d, "app", "wf", k, 0, "A")
    acks = read_acks(writer, 3000)  # enough to cross WAL checkpoints
    kill_and_drain(writer, acks)
    verify(d, "wf", "A", k, acks)


def test_kill_9_with_background_checkpoints_loses_no_acknowledged_append(
        tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    """The checkpointer thread a worker host runs: WAL copied back into the main file while
    commits go on, then SIGKILL (possibly mid-checkpoint). Nothing acknowledged is lost."""
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    writer = spawn("append_bg", d, "app", "wf", 10, 0, "A")
    main_file = d / DB_FILE
    acks: list[int] = []
    deadline = time.monotonic() + 60
    # commits go on until the thread has really checkpointed: the main file takes pages from
    # the WAL (which passes the 4 MiB mark after ~400 commits) while the writer runs
    while main_file.stat().st_size < 1024 * 1024 and time.monotonic() < deadline:
        acks += read_acks(writer, 500)
    grown = main_file.stat().st_size
    acks += read_acks(writer, 500)  # and more commits after a checkpoint
    kill_and_drain(writer, acks)
    assert grown >= 1024 * 1024, f"main file {grown} bytes after 60 s: no background checkpoint ran"
    verify(d, "wf", "A", 10, acks)


def test_background_checkpoints_need_a_disc_file(tmp_path: Path) -> None:
    with MnesiaStore("app", disc_copies=False) as ram:
        assert ram.checkpoint_in_background() is False
    main_file = tmp_path / "d" / DB_FILE
    with MnesiaStore("app", dir=tmp_path / "d") as disc:
        assert disc.checkpoint_in_background() is True
        assert disc.checkpoint_in_background() is True  # idempotent
        for i in range(600):  # ~7 MiB of WAL (one ~11 KiB row per append), short of SQLite's own mark
            disc.append("wf", [["x" * 1024, i, j] for j in range(10)])
        before = main_file.stat().st_size
        deadline = time.monotonic() + 30
        while main_file.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.05)  # no commit now: only the thread can copy the WAL back
        assert main_file.stat().st_size > before
    with MnesiaStore("app", dir=tmp_path / "d") as again:
        assert again.cursor("wf") == 6000


def test_kill_9_of_one_writer_does_not_stop_the_other(tmp_path: Path,
                                                      spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    a = spawn("append", d, "app", "wfA", 1, 0, "A")
    b = spawn("append", d, "app", "wfB", 3, 0, "B")
    acks_a = read_acks(a, 1000)
    acks_b = read_acks(b, 500)
    kill_and_drain(a, acks_a)  # possibly while it held the write lock
    acks_b += read_acks(b, 300)  # the survivor keeps committing
    kill_and_drain(b, acks_b)
    verify(d, "wfA", "A", 1, acks_a)
    verify(d, "wfB", "B", 3, acks_b)

"""MnesiaStore with several real OS processes on one store directory."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from runic.store import FencedError, MnesiaStore

from .conftest import Proc


def _two_writers(d: Path, go: Path, wf: str, spawn: Callable[..., Proc], calls: int,
                 k: int) -> tuple[dict[str, list[int]], list]:
    writers = {tag: spawn("append", d, "app", wf, k, calls, tag, go) for tag in ("A", "B")}
    for w in writers.values():
        assert w.line() == {"ready": True}
    go.touch()  # both start appending together
    acks = {}
    for tag, w in writers.items():
        acks[tag] = [item["ack"] for item in w.lines()]
        assert w.wait() == 0, w.stderr()
        assert len(acks[tag]) == calls
    with MnesiaStore("app", dir=d) as s:
        events = list(s.stream(wf))
        assert s.cursor(wf) == len(events) == 2 * calls * k
    return acks, events


def test_two_processes_appending_to_one_workflow_stay_gapless_and_ordered(
        tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()  # schema first, as the store actor would
    calls, k = 600, 2
    for attempt in range(3):  # the check needs the two writers to overlap in time
        go = tmp_path / f"go{attempt}"
        acks, events = _two_writers(d, go, f"shared{attempt}", spawn, calls, k)
        for tag in ("A", "B"):
            # each writer's cursors increase, and its events sit exactly at the seqs it was told
            assert acks[tag] == sorted(acks[tag])
            for call, cursor in enumerate(acks[tag]):
                assert events[cursor - k:cursor] == [[tag, call, j] for j in range(k)]
            mine = [e for e in events if e[0] == tag]
            assert mine == [[tag, c, j] for c in range(calls) for j in range(k)]
        tags = [e[0] for e in events]
        if sum(1 for a, b in zip(tags, tags[1:]) if a != b) > 1:
            break  # their appends interleaved: the run tested concurrent appends
    else:
        pytest.fail("the two writer processes never ran at the same time in 3 attempts")


def test_twenty_writer_processes_and_read_after_write_from_another_process(
        tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    # from Runic's store tests: 20 concurrent writers on distinct ids; read-after-write from another process
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    writers = [spawn("writer", d, "app", i) for i in range(20)]
    for i, w in enumerate(writers):
        assert w.lines() == [{"done": i}]
        assert w.wait() == 0, w.stderr()
    with MnesiaStore("app", dir=d) as s:
        assert sorted(s.list()) == sorted(f"wf{i}" for i in range(20))
        for i in range(20):
            assert list(s.stream(f"wf{i}")) == [[i, j] for j in range(25)]
            assert s.load_fact(1000 + i) == i
        s.save("written-here", ["x"])
        s.append("written-here", ["e1", "e2"])
    reader = spawn("read", d, "app", "written-here")
    assert reader.lines() == [{"log": ["x"], "events": ["e1", "e2"]}]


def test_a_stale_owner_in_another_process_is_fenced(tmp_path: Path,
                                                    spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    orphan = spawn("fenced", d, "app", "wf", "orphan")
    first = orphan.line()
    assert first is not None and "epoch" in first
    for _ in range(50):  # the orphan is appending
        item = orphan.line()
        assert item is not None and "ack" in item
    with MnesiaStore("app", dir=d) as s:
        epoch = s.acquire("wf", "successor")  # take over while it keeps appending
        assert epoch > first["epoch"]
        s.append("wf", [["successor", 0]], epoch=epoch)
        rest = orphan.lines()
        assert orphan.wait() == 0, orphan.stderr()
        fenced = rest[-1]
        assert "fenced" in fenced and fenced["current"] == epoch
        assert "orphan" not in fenced["fenced"] and "successor" in fenced["fenced"]
        events = list(s.stream("wf"))
        # every orphan event is one it was told succeeded, and all precede the takeover
        assert events[:-1] == [["orphan", i] for i in range(fenced["acked"])]
        assert events[-1] == ["successor", 0]
        s.append("wf", [["successor", 1]], epoch=epoch)
        with pytest.raises(FencedError):
            s.append("wf", [["orphan", "late"]], epoch=first["epoch"])


def test_ram_tables_outside_an_actor_system_are_private_to_the_process(
        spawn: Callable[..., Proc], runner_name: str) -> None:
    with MnesiaStore(runner_name, disc_copies=False) as s:
        s.save("wf", [1])
        other = spawn("ram", runner_name, "wf")
        assert other.lines() == [{"exists": False, "storage_type": "ram_copies"}]
        with MnesiaStore(runner_name, disc_copies=False) as again:
            assert again.exists("wf")
        s.drop_tables()

"""Fact hash versions: a workflow keeps the hash its log was written with.

A log written before hash versions (no annotation: BLAKE2b, version 1) and a log the Runner
writes now (annotated with version 2: xxh3-64) both replay exactly, and a Worker that resumes
either goes on hashing as it began: the same input fed again is the same fact. The Worker runs
in this process on a real ``HostLoop`` and ``MnesiaStore`` (no actors: the behaviour under test
is the Worker's and the store's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runic
from runic.events import FactProduced, WorkflowAnnotated
from runic.facts import HASH_VERSION_KEY, HASH_VERSIONS, LATEST_HASH_VERSION, fact_hash, hash_version, set_hash_version
from runic.runner.loop import HostLoop
from runic.runner.worker import Worker
from runic.store import MnesiaStore

from . import fns


@pytest.fixture
def loop(tmp_path: Path) -> Any:
    store = MnesiaStore("hashes", dir=tmp_path / "data")
    loop = HostLoop("h", store)
    loop.on_loop_thread = lambda: True  # type: ignore[method-assign] - this thread is its loop
    before = hash_version()
    yield loop
    set_hash_version(before)
    store.close()


def definition() -> runic.Workflow:
    return runic.workflow("hv", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])


def run(loop: Any, worker: Worker, value: Any) -> None:
    with loop.lock:
        worker.run(value)
        while loop._ready or loop._dirty:
            loop._round()
    assert worker.status == "idle"


def resume(loop: Any, wid: str) -> Worker:
    """What a host's resume does: rebuild from the stored events, a Worker on a new epoch."""
    store = loop.store
    epoch = store.acquire(wid, "resumer")
    wf = runic.Workflow.from_events(list(store.stream(wid)), fact_mode="ref")
    worker = Worker(loop, wid, wf, {"executor": "inline"}, None, epoch, resumed=True)
    loop.workers[wid] = worker
    return worker


def inputs(store: MnesiaStore, wid: str) -> list[int]:
    return [e.hash for e in store.stream(wid) if type(e) is FactProduced and e.producer_label == "input"]


def produced(store: MnesiaStore, wid: str) -> dict[int, Any]:
    return {e.hash: e.value for e in store.stream(wid) if type(e) is FactProduced}


def test_a_new_workflow_records_the_latest_version_and_keeps_it_when_resumed(loop: Any) -> None:
    assert LATEST_HASH_VERSION == 2 and set(HASH_VERSIONS) == {1, 2}
    set_hash_version(1)  # whatever this thread used before, the workflow uses its own
    w = Worker(loop, "new", definition(), {"executor": "inline"}, None, loop.store.acquire("new", "me"))
    loop.workers["new"] = w
    run(loop, w, 5)
    store = loop.store
    notes = [e for e in store.stream("new") if type(e) is WorkflowAnnotated and e.key == HASH_VERSION_KEY]
    assert [n.value for n in notes] == [2]
    assert inputs(store, "new") == [fact_hash(5, None, 2)] != [fact_hash(5, None, 1)]
    # every produced fact hashes as xxh3: the step results too (made on the step's thread)
    for h, value in produced(store, "new").items():
        assert h in {fact_hash(value, a, 2) for a in _ancestries(store, "new", h)}
    before = produced(store, "new")
    replayed = runic.Workflow.from_events(list(store.stream("new")))
    assert {h for h in replayed.graph.vertices if h in before} == set(before)  # the log's hashes, exactly
    again = resume(loop, "new")
    assert again.hash_version == 2
    set_hash_version(1)
    run(loop, again, 5)  # the same input: the same fact as before the restart, nothing new
    assert produced(store, "new") == before
    run(loop, again, 6)
    assert fact_hash(6, None, 2) in produced(store, "new")


def test_a_log_without_a_version_keeps_blake2b_for_ever(loop: Any) -> None:
    # a log as runic wrote it before hash versions: built and run in this process, version 1
    set_hash_version(1)
    wf = definition().enable_event_emission()
    log = wf.build_log()
    wf.react_until_satisfied(5)
    store = loop.store
    store.append("old", log + wf.drain_events())
    assert not any(type(e) is WorkflowAnnotated and e.key == HASH_VERSION_KEY for e in store.stream("old"))
    before = produced(store, "old")
    assert inputs(store, "old") == [fact_hash(5, None, 1)]
    replayed = runic.Workflow.from_events(list(store.stream("old")))
    assert {h for h in replayed.graph.vertices if h in before} == set(before)
    set_hash_version(2)  # this thread's version does not matter: the workflow's does
    w = resume(loop, "old")
    assert w.hash_version == 1
    run(loop, w, 5)
    assert produced(store, "old") == before  # recognised: BLAKE2b, as when it was written
    run(loop, w, 7)
    after = produced(store, "old")
    assert fact_hash(7, None, 1) in after and fact_hash(7, None, 2) not in after
    assert fact_hash(8, (_node(w, "a"), fact_hash(7, None, 1)), 1) in after  # its step's result too


def test_a_log_of_a_newer_hash_version_is_refused_with_what_to_do(loop: Any) -> None:
    store = loop.store
    wf = definition().enable_event_emission()
    wf.annotate(HASH_VERSION_KEY, 99)
    store.append("future", wf.build_log() + wf.drain_events())
    with pytest.raises(ValueError, match="version 99.*upgrade runic"):
        resume(loop, "future")


def _node(w: Worker, name: str) -> int:
    return w.workflow.components[name].hash


def _ancestries(store: MnesiaStore, wid: str, h: int) -> list[Any]:
    return [e.ancestry for e in store.stream(wid) if type(e) is FactProduced and e.hash == h]

"""The store contract: every adapter (MemoryStore, MnesiaStore on disc, MnesiaStore in RAM,
PostgresStore on a throwaway server) must pass every test here. Tests ported from Runic's own store suites (its ETS and Mnesia store
tests, and the store part of its event-sourcing tests) say so in a comment."""

from __future__ import annotations

import threading
import uuid
from typing import Callable

import pytest

import runic
from runic import Fact
from runic.store.checksum import blob_crc, fact_crc, key_seed, snapshot_crc
from runic.store.base import AppendRow
from runic.store import (
    STATUSES,
    BaseStore,
    CorruptStoreError,
    FencedError,
    MemoryStore,
    MnesiaStore,
    NodeFencedError,
    NotFoundError,
    Store,
    StoreArgumentError,
    StoreClosedError,
    StoreDecodeError,
    StoreEncodeError,
    StoreError,
    supports_stream,
)


class Unencodable:
    """A type runic.codec refuses (not registered)."""


# ----------------------------------------------------------------------------- protocol

def test_store_implements_the_protocol(store: BaseStore) -> None:
    assert isinstance(store, Store)


def test_supports_stream_is_true_for_instances_and_classes(store: BaseStore) -> None:
    # from Runic's event-sourcing tests: supports_stream(ETS) is true
    assert supports_stream(store)
    assert supports_stream(type(store))
    assert supports_stream(MemoryStore) and supports_stream(MnesiaStore)

    class SnapshotOnly:
        def save(self, wid, log): ...
        def load(self, wid): ...

    class AppendOnly:
        def append(self, wid, events): ...

    assert not supports_stream(SnapshotOnly())
    assert not supports_stream(AppendOnly)


# ----------------------------------------------------------------------------- tables, threads

def test_data_written_is_readable_from_another_thread(store: BaseStore,
                                                       open_: Callable[[], BaseStore]) -> None:
    # from Runic's store tests: the store creates its tables; data written is readable from another process
    # (a thread here: the unit that shares a process's tables; OS processes in test_multiprocess)
    store.save("wf", [1, 2, 3])
    store.append("wf", ["e1"])
    other = open_()
    seen: dict[str, object] = {}

    def read() -> None:
        seen["log"] = other.load("wf")
        seen["events"] = list(other.stream("wf"))

    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert seen == {"log": [1, 2, 3], "events": ["e1"]}


def test_creating_the_store_twice_is_harmless(store: BaseStore,
                                              open_: Callable[[], BaseStore]) -> None:
    # from Runic's Mnesia store tests: creating the store twice is harmless (and shares the tables)
    store.save("wf", ["a"])
    again = open_()
    assert again.load("wf") == ["a"]
    again.save("wf2", ["b"])
    assert sorted(store.list()) == ["wf", "wf2"]


# ----------------------------------------------------------------------------- snapshot logs

def test_save_load_round_trip(store: BaseStore) -> None:
    log = [{"event": "ComponentAdded", "name": "a"}, ("tuple", 1), {1, 2}, None, 1.5, b"raw"]
    store.save("wf", log)
    assert store.load("wf") == log


def test_load_unknown_id_raises_not_found(store: BaseStore) -> None:
    with pytest.raises(NotFoundError) as info:
        store.load("nope")
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, runic.RunicError)
    assert "nope" in str(info.value)


def test_second_save_overwrites(store: BaseStore) -> None:
    store.save("wf", [1])
    store.save("wf", [2, 3])
    assert store.load("wf") == [2, 3]
    assert store.list() == ["wf"]


def test_delete_then_load_is_not_found(store: BaseStore) -> None:
    store.save("wf", [1])
    store.delete("wf")
    with pytest.raises(NotFoundError):
        store.load("wf")
    assert not store.exists("wf")


def test_checkpoint_behaves_like_save(store: BaseStore) -> None:
    store.checkpoint("wf", [1])
    assert store.load("wf") == [1]
    store.checkpoint("wf", [1, 2])
    assert store.load("wf") == [1, 2]
    assert store.list() == ["wf"]


def test_saved_log_is_a_copy(store: BaseStore) -> None:
    log = [{"k": [1]}]
    store.save("wf", log)
    log[0]["k"].append(2)
    loaded = store.load("wf")
    assert loaded == [{"k": [1]}]
    loaded[0]["k"].append(3)
    assert store.load("wf") == [{"k": [1]}]


def test_facts_in_a_log_round_trip(store: BaseStore) -> None:
    fact = Fact({"x": 1}, None)
    store.save("wf", [fact])
    (back,) = store.load("wf")
    assert back == fact and back.hash == fact.hash


# ----------------------------------------------------------------------------- list / exists

def test_list_is_empty_for_an_empty_store(store: BaseStore) -> None:
    assert store.list() == []


def test_list_returns_saved_ids(store: BaseStore) -> None:
    for wid in ["a", "b", "c"]:
        store.save(wid, [wid])
    assert sorted(store.list()) == ["a", "b", "c"]


def test_exists_true_and_false(store: BaseStore) -> None:
    assert not store.exists("wf")
    store.save("wf", [])
    assert store.exists("wf")
    assert not store.exists("other")


def test_stream_only_workflows_exist_but_are_not_listed(store: BaseStore) -> None:
    # Runic's semantics, kept: list() is the snapshot table, exists() sees the stream too
    store.append("streamed", ["e"])
    assert store.exists("streamed")
    assert store.list() == []


def test_workflow_ids_follow_the_id_rule(store: BaseStore) -> None:
    ids = ["s", "7", 7, -3, 2**70, ("order", 42), ("n", ("e", b"x")), b"\x00raw", uuid.UUID(int=5)]
    for wid in ids:
        store.save(wid, [repr(wid)])
        store.append(wid, [repr(wid)])
    for wid in ids:
        assert store.load(wid) == [repr(wid)]
        assert list(store.stream(wid)) == [repr(wid)]
    assert sorted(store.list(), key=repr) == sorted(ids, key=repr)  # "7" and 7 are two workflows
    for bad in (True, False, 1.0, float("nan"), None, ["unhashable"], {"a": 1}, frozenset({1}),
                ("ok", 1.5), object()):
        for call in (lambda: store.save(bad, []), lambda: store.append(bad, []),
                     lambda: store.load(bad), lambda: store.acquire(bad, "o")):
            with pytest.raises(StoreArgumentError) as info:
                call()
            assert "invalid workflow id" in str(info.value) and "str(the_id)" in str(info.value)
            assert isinstance(info.value, runic.ArgumentError)
    assert sorted(store.list(), key=repr) == sorted(ids, key=repr)  # nothing was written


# ----------------------------------------------------------------------------- delete

def test_delete_unknown_id_is_a_no_op(store: BaseStore) -> None:
    store.delete("never-stored")
    store.save("kept", [1])
    store.delete("never-stored")
    assert store.load("kept") == [1]


def test_delete_removes_log_events_counter_snapshot_status_but_not_facts(store: BaseStore) -> None:
    store.save("wf", [1])
    store.append("wf", ["e1", "e2"])
    store.save_snapshot("wf", 2, b"snap")
    store.set_status("wf", "running")
    store.acquire("wf", "me")
    store.save_fact(11, "v")
    store.save("other", [2])
    store.append("other", ["o"])

    store.delete("wf")
    assert not store.exists("wf")
    with pytest.raises(NotFoundError):
        store.stream("wf")
    with pytest.raises(NotFoundError):
        store.load_snapshot("wf")
    assert store.cursor("wf") == 0
    assert store.status("wf") is None and store.owner("wf") is None
    assert store.load_fact(11) == "v"
    assert store.load("other") == [2] and list(store.stream("other")) == ["o"]
    # a new stream under the same id starts again at 1
    assert store.append("wf", ["new"]) == 1
    assert list(store.stream("wf")) == ["new"]


# ----------------------------------------------------------------------------- facts

def test_save_fact_load_fact_round_trip(store: BaseStore) -> None:
    store.save_fact(123, 42)
    assert store.load_fact(123) == 42


def test_load_unknown_fact_is_not_found(store: BaseStore) -> None:
    with pytest.raises(NotFoundError) as info:
        store.load_fact(999)
    assert isinstance(info.value, LookupError)


def test_save_fact_overwrites(store: BaseStore) -> None:
    store.save_fact(1, "old")
    store.save_fact(1, "new")
    assert store.load_fact(1) == "new"


def test_raw_nested_values_are_stored_as_is(store: BaseStore) -> None:
    value = {"a": {"b": [1, 2, {"c": (3, 4)}]}, 5: {"set": {6}}, "n": None}
    store.save_fact(7, value)
    assert store.load_fact(7) == value


def test_fact_keys_are_independent(store: BaseStore) -> None:
    store.save_fact(1, "one")
    store.save_fact(2, "two")
    assert store.load_fact(1) == "one"
    assert store.load_fact(2) == "two"


def test_fact_hashes_use_the_full_unsigned_64_bit_range(store: BaseStore) -> None:
    edges = [0, 1, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1]
    for i, h in enumerate(edges):
        store.save_fact(h, i)
    assert [store.load_fact(h) for h in edges] == list(range(len(edges)))
    for bad in [-1, 2**64, "1", 1.0, True]:
        with pytest.raises(StoreArgumentError):
            store.save_fact(bad, "x")


def test_save_facts_writes_several(store: BaseStore) -> None:
    store.save_facts({1: "a", 2**64 - 2: "b"})
    assert store.load_fact(1) == "a" and store.load_fact(2**64 - 2) == "b"


# ----------------------------------------------------------------------------- concurrency

def test_twenty_concurrent_writers_on_distinct_ids_do_not_interfere(
        store: BaseStore, open_: Callable[[], BaseStore]) -> None:
    # from Runic's store tests: 20 concurrent writers on distinct ids; read-after-write from another thread
    handles = [open_() for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def writer(i: int) -> None:
        s = handles[i % len(handles)]
        try:
            barrier.wait()
            for j in range(25):
                s.append(f"wf{i}", [(i, j)])
            s.save(f"wf{i}", [i])
            s.save_fact(1000 + i, i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(20):
        assert list(store.stream(f"wf{i}")) == [(i, j) for j in range(25)]
        assert store.load(f"wf{i}") == [i]
        assert store.load_fact(1000 + i) == i
    assert sorted(store.list()) == sorted(f"wf{i}" for i in range(20))


def test_concurrent_appends_to_one_workflow_stay_gapless(
        store: BaseStore, open_: Callable[[], BaseStore]) -> None:
    handles = [store, open_()]
    cursors: list[int] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        for j in range(50):
            c = handles[i % 2].append("shared", [(i, j)] * (1 + j % 3))
            with lock:
                cursors.append(c)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = list(store.stream("shared"))
    total = 4 * sum(1 + j % 3 for j in range(50))
    assert len(events) == total == store.cursor("shared") == max(cursors)
    assert len(set(cursors)) == len(cursors)  # every append got its own range
    for i in range(4):  # each writer's events are in its own order
        mine = [e for e in events if e[0] == i]
        assert [e[1] for e in mine] == sorted(e[1] for e in mine)


# ----------------------------------------------------------------------------- event streams

def test_append_two_events_returns_cursor_two_and_streams_them(store: BaseStore) -> None:
    # from Runic's event-sourcing tests: append of 2 events returns cursor 2 and stream yields them
    assert store.append("wf", ["a", "b"]) == 2
    assert list(store.stream("wf")) == ["a", "b"]


def test_appends_are_additive(store: BaseStore) -> None:
    # from Runic's event-sourcing tests: cursor 1, then 2
    assert store.append("wf", ["a"]) == 1
    assert store.append("wf", ["b"]) == 2
    assert store.append("wf", ["c", "d", "e"]) == 5
    assert list(store.stream("wf")) == ["a", "b", "c", "d", "e"]
    assert store.cursor("wf") == 5


def test_stream_of_unknown_id_is_not_found_at_call_time(store: BaseStore) -> None:
    with pytest.raises(NotFoundError):
        store.stream("nope")  # raised by the call itself, not on the first next()


def test_delete_removes_the_stream(store: BaseStore) -> None:
    store.append("wf", ["a"])
    store.delete("wf")
    with pytest.raises(NotFoundError):
        store.stream("wf")


def test_appending_nothing_creates_an_empty_stream(store: BaseStore) -> None:
    assert store.append("wf", []) == 0
    assert store.exists("wf")
    assert list(store.stream("wf")) == []
    store.append("wf", ["a"])
    assert store.append("wf", []) == 1


def test_stream_is_lazy_and_fixed_at_call_time(store: BaseStore) -> None:
    # does a stream see later appends? No: we keep Mnesia's behaviour for every adapter
    store.append("wf", ["a", "b"])
    stream = store.stream("wf")
    assert stream.cursor == 2
    store.append("wf", ["c"])
    assert list(stream) == ["a", "b"]
    assert list(store.stream("wf")) == ["a", "b", "c"]


def test_stream_with_start_yields_the_tail(store: BaseStore) -> None:
    store.append("wf", list(range(10)))
    assert list(store.stream("wf", start=8)) == [7, 8, 9]
    assert list(store.stream("wf", start=11)) == []
    with pytest.raises(StoreArgumentError):
        store.stream("wf", start=0)


def test_long_streams_cross_pages_in_order(store: BaseStore) -> None:
    n = store.stream_page * 2 + 17
    for chunk in range(0, n, 500):
        store.append("wf", list(range(chunk, min(n, chunk + 500))))
    assert list(store.stream("wf")) == list(range(n))


def test_stream_deleted_while_consumed_stops(store: BaseStore) -> None:
    n = store.stream_page + 10
    for i in range(n):  # one row per append: pages are counted in rows
        store.append("wf", [i])
    stream = store.stream("wf")
    first = [next(stream) for _ in range(3)]
    store.delete("wf")
    rest = list(stream)
    assert first == [0, 1, 2]
    # the first page was already read; what follows is gone, and the stream just ends
    assert rest == list(range(3, store.stream_page))


def test_events_round_trip_with_their_types(store: BaseStore) -> None:
    events = [("t", 1), {"k": {1, 2}}, Fact(5, None), None, b"\x00"]
    store.append("wf", events)
    assert list(store.stream("wf")) == events


# ----------------------------------------------------------------------------- snapshots

def test_snapshots_save_load_replace(store: BaseStore) -> None:
    with pytest.raises(NotFoundError):
        store.load_snapshot("wf")
    store.save_snapshot("wf", 3, b"state-at-3")
    assert store.load_snapshot("wf") == (3, b"state-at-3")
    store.save_snapshot("wf", 7, bytearray(b"state-at-7"))
    assert store.load_snapshot("wf") == (7, b"state-at-7")
    with pytest.raises(StoreArgumentError):
        store.save_snapshot("wf", 1, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(StoreArgumentError):
        store.save_snapshot("wf", -1, b"")


# ----------------------------------------------------------------------------- bad values

def test_unencodable_event_raises_and_writes_nothing(store: BaseStore) -> None:
    store.append("wf", ["ok"])
    with pytest.raises(StoreEncodeError) as info:
        store.append("wf", ["fine", Unencodable()], facts={5: "f"})
    msg = str(info.value)
    assert store.table_names["events"] in msg and "Unencodable" in msg
    assert "register" in msg  # the codec's advice is kept
    assert isinstance(info.value, TypeError) and isinstance(info.value, StoreError)
    assert list(store.stream("wf")) == ["ok"]
    with pytest.raises(NotFoundError):
        store.load_fact(5)


def test_unencodable_log_and_fact_raise_and_write_nothing(store: BaseStore) -> None:
    store.save("wf", [1])
    with pytest.raises(StoreEncodeError) as info:
        store.save("wf", [Unencodable()])
    assert store.table_names["logs"] in str(info.value)
    assert store.load("wf") == [1]
    with pytest.raises(StoreEncodeError) as info:
        store.save_fact(9, Unencodable())
    assert store.table_names["facts"] in str(info.value)
    with pytest.raises(NotFoundError):
        store.load_fact(9)


def test_undecodable_stored_bytes_raise_a_store_error(store: BaseStore) -> None:
    # 0xc1 is never valid msgpack: stands for bytes written (with a valid checksum) by a runic
    # that allowed them
    store._put_log("wf", b"\xc1", blob_crc(b"\xc1", key_seed("wf")), 0)
    with pytest.raises(StoreDecodeError) as info:
        store.load("wf")
    assert store.table_names["logs"] in str(info.value)


# ----------------------------------------------------------------------------- ownership

def test_acquire_hands_out_strictly_increasing_epochs(store: BaseStore) -> None:
    assert store.owner("wf") is None
    e1 = store.acquire("wf", "host-a")
    assert store.owner("wf") == ("host-a", e1)
    e2 = store.acquire("wf", "host-b")
    assert e2 > e1 and store.owner("wf") == ("host-b", e2)
    e3 = store.acquire("other", "host-a")
    assert e3 > e2


def test_append_with_the_current_epoch_is_accepted(store: BaseStore) -> None:
    e = store.acquire("wf", "me")
    assert store.append("wf", ["a"], epoch=e) == 1
    assert store.append("wf", ["b"]) == 2  # unfenced writers are not checked


def test_stale_owner_append_is_fenced_and_writes_nothing(store: BaseStore) -> None:
    old = store.acquire("wf", "orphan")
    store.append("wf", ["a"], epoch=old)
    new = store.acquire("wf", "successor")
    with pytest.raises(FencedError) as info:
        store.append("wf", ["late"], epoch=old, facts={77: "late-fact"})
    err = info.value
    assert (err.workflow_id, err.epoch, err.current_epoch, err.owner) == ("wf", old, new, "successor")
    assert "wf" in str(err) and str(old) in str(err) and str(new) in str(err)
    assert list(store.stream("wf")) == ["a"]
    with pytest.raises(NotFoundError):
        store.load_fact(77)
    assert store.append("wf", ["b"], epoch=new) == 2


def test_an_epoch_for_an_unowned_workflow_is_fenced(store: BaseStore) -> None:
    with pytest.raises(FencedError) as info:
        store.append("wf", ["x"], epoch=1)
    assert info.value.current_epoch == 0
    assert not store.exists("wf")


def test_epochs_keep_growing_across_delete(store: BaseStore) -> None:
    old = store.acquire("wf", "a")
    store.delete("wf")
    new = store.acquire("wf", "b")
    assert new > old
    with pytest.raises(FencedError):
        store.append("wf", ["x"], epoch=old)


def test_bad_epoch_and_owner_arguments(store: BaseStore) -> None:
    for bad in [-1, "1", 1.0, True]:
        with pytest.raises(StoreArgumentError):
            store.append("wf", ["x"], epoch=bad)  # type: ignore[arg-type]
    with pytest.raises(StoreArgumentError):
        store.acquire("wf", 5)  # type: ignore[arg-type]


def test_facts_are_saved_with_the_append(store: BaseStore) -> None:
    h = 2**64 - 5
    assert store.append("wf", ["e"], facts={h: {"v": 1}, 3: [1, 2]}) == 1
    assert store.load_fact(h) == {"v": 1} and store.load_fact(3) == [1, 2]
    with pytest.raises(StoreArgumentError):
        store.append("wf", ["e"], facts={-3: "bad hash"})
    assert store.cursor("wf") == 1


# ----------------------------------------------------------------------------- statuses

def test_status_set_get_and_list(store: BaseStore) -> None:
    assert store.status("a") is None
    assert store.list_status() == {}
    store.set_status("a", "running")
    store.set_status("b", "idle")
    store.set_status("c", "stopped")
    store.set_status(("t", 1), "failed")
    assert store.status("a") == "running"
    assert store.list_status() == {"a": "running", "b": "idle", "c": "stopped", ("t", 1): "failed"}
    assert store.list_status(["running", "idle"]) == {"a": "running", "b": "idle"}
    store.set_status("a", "stopped")
    assert store.list_status(["running"]) == {}
    store.set_status("c", "cancelled")
    assert store.list_status(["cancelled"]) == {"c": "cancelled"}
    assert set(STATUSES) == {"running", "idle", "stopped", "failed", "cancelled"}
    with pytest.raises(StoreArgumentError):
        store.set_status("a", "sleeping")
    with pytest.raises(StoreArgumentError):
        store.list_status(["sleeping"])


def test_acquire_keeps_the_status_and_status_keeps_the_owner(store: BaseStore) -> None:
    store.set_status("wf", "idle")
    e = store.acquire("wf", "me")
    assert store.status("wf") == "idle"
    store.set_status("wf", "running", epoch=e)
    assert store.owner("wf") == ("me", e)
    assert store.list_status() == {"wf": "running"}
    # an owned workflow without a status is not listed
    store.acquire("other", "me")
    assert store.list_status() == {"wf": "running"}


def test_stale_set_status_is_fenced(store: BaseStore) -> None:
    old = store.acquire("wf", "a")
    store.set_status("wf", "running", epoch=old)
    store.acquire("wf", "b")
    with pytest.raises(FencedError) as info:
        store.set_status("wf", "stopped", epoch=old)
    assert info.value.operation == "set_status"
    assert store.status("wf") == "running"


# ----------------------------------------------------------------------------- handles

def test_closed_store_refuses_calls_and_close_is_idempotent(open_: Callable[[], BaseStore]) -> None:
    s = open_()
    s.save("wf", [1])
    s.close()
    s.close()
    assert s.closed
    for call in (lambda: s.load("wf"), lambda: s.append("wf", [1]), lambda: s.list()):
        with pytest.raises(StoreClosedError):
            call()


def test_closing_one_handle_leaves_the_others_working(store: BaseStore,
                                                      open_: Callable[[], BaseStore]) -> None:
    other = open_()
    with other:
        other.save("wf", [1])
    assert store.load("wf") == [1]
    store.append("wf", ["e"])
    assert list(store.stream("wf")) == ["e"]


def test_context_manager_closes(open_: Callable[[], BaseStore]) -> None:
    with open_() as s:
        s.save("wf", [1])
    assert s.closed


def test_drop_tables_removes_all_data(store: BaseStore, open_: Callable[[], BaseStore]) -> None:
    store.save("wf", [1])
    store.append("wf", [1])
    store.save_fact(1, 1)
    store.drop_tables()
    assert store.closed
    fresh = open_()
    assert fresh.list() == [] and not fresh.exists("wf")
    with pytest.raises(NotFoundError):
        fresh.load_fact(1)


def test_runner_name_must_be_a_non_empty_string(adapter: str, tmp_path, request) -> None:
    from .conftest import open_store

    if adapter == "postgres":
        request.getfixturevalue("pg_server")
    for bad in ["", None, 5]:
        with pytest.raises(StoreArgumentError):
            open_store(adapter, bad, tmp_path)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- checksums

def test_a_damaged_event_row_is_an_error_naming_the_workflow_and_table(store: BaseStore) -> None:
    store.append("wf", ["e1", "e2"])
    key = store._key("wf")
    blob = runic.codec.dumps("e3")
    store._append(key, AppendRow(runic.codec.dumps_batch(["e3"]), 1, key_seed(key), crc_xor=1), None, [], None)
    store.append("wf", ["e4"])  # (were the damaged row the last, stream() itself would refuse)
    events = store.stream("wf")
    assert next(events) == "e1" and next(events) == "e2"
    with pytest.raises(CorruptStoreError) as info:
        next(events)
    message = str(info.value)
    assert "event 3 of workflow 'wf'" in message and store.table_names["events"] in message
    assert "checksum" in message and "backup" in message


def test_a_row_of_another_workflow_does_not_pass_as_this_ones(store: BaseStore) -> None:
    # the checksum covers the key: bytes checksummed for "a" do not pass in "b"
    key = store._key("b")
    store._append(key, AppendRow(runic.codec.dumps_batch(["x"]), 1, key_seed("a")), None, [], None)
    with pytest.raises(CorruptStoreError):
        list(store.stream("b"))


def test_damaged_fact_log_and_snapshot_rows_are_errors(store: BaseStore) -> None:
    blob = runic.codec.dumps({"v": 1})
    store._put_facts([(5, blob, fact_crc(5, blob) ^ 4)])
    with pytest.raises(CorruptStoreError) as info:
        store.load_fact(5)
    assert "fact 5" in str(info.value) and store.table_names["facts"] in str(info.value)
    with pytest.raises(CorruptStoreError):
        store.load_facts([5])
    store._put_log("wf", blob, blob_crc(blob, key_seed("wf")) ^ 1, 0)
    with pytest.raises(CorruptStoreError) as info:
        store.load("wf")
    assert "log of workflow 'wf'" in str(info.value)
    store._put_snapshot("wf", 3, b"snap", snapshot_crc(4, b"snap", key_seed("wf")))  # another cursor
    with pytest.raises(CorruptStoreError):
        store.load_snapshot("wf")


# ----------------------------------------------------------------------------- fact lifetime

def test_delete_removes_the_values_only_its_workflow_wrote(store: BaseStore) -> None:
    store.append("a", ["ea"], facts={1: "only a", 3: "a and b"})
    store.append("b", ["eb"], facts={2: "only b", 3: "a and b"})
    store.save_fact(4, "pinned")
    store.append("a", ["ea2"], facts={4: "a wrote a pinned hash"})
    store.delete("a")
    with pytest.raises(NotFoundError):
        store.load_fact(1)
    assert store.load_fact(2) == "only b"
    assert store.load_fact(3) == "a and b"  # shared: kept by delete
    assert store.load_fact(4) == "a wrote a pinned hash"  # pinned: kept
    store.delete("b")
    with pytest.raises(NotFoundError):
        store.load_fact(2)
    assert store.load_fact(3) == "a and b"


def test_gc_removes_unreferenced_shared_values_and_keeps_the_rest(store: BaseStore) -> None:
    store.append("a", [["ref", 3]], facts={3: "shared", 5: "shared, referenced by c"})
    store.append("b", ["eb"], facts={3: "shared", 5: "shared, referenced by c"})
    store.append("c", [{"fact": 5}], facts={6: "owned by c", 5: "shared, referenced by c"})
    store.save_fact(7, "pinned, referenced by nobody")
    store.delete("a")
    store.delete("b")
    assert store.load_fact(3) == "shared"  # delete keeps shared values
    result = store.gc()
    assert result["removed"] == 1 and result["workflows"] == 1
    with pytest.raises(NotFoundError):
        store.load_fact(3)
    assert store.load_fact(5) == "shared, referenced by c"  # referenced by an event of c
    assert store.load_fact(6) == "owned by c"
    assert store.load_fact(7) == "pinned, referenced by nobody"
    assert store.gc()["removed"] == 0
    assert store.delete_facts([7, 8]) == 1
    with pytest.raises(NotFoundError):
        store.load_fact(7)


def test_gc_marks_logs_and_codec_snapshots(store: BaseStore) -> None:
    store.append("a", ["e"], facts={10: "in a log", 11: "in a snapshot", 12: "garbage"})
    store.append("b", ["e"], facts={10: "in a log", 11: "in a snapshot", 12: "garbage"})
    store.delete("a")
    store.save("b", [("ref", 10)])
    store.save_snapshot("b", 1, runic.codec.dumps({"refs": [11]}))
    store.append("b", [], facts=None)
    assert store.gc()["removed"] == 1
    assert store.load_fact(10) == "in a log" and store.load_fact(11) == "in a snapshot"
    with pytest.raises(NotFoundError):
        store.load_fact(12)


def test_values_written_while_gc_marks_are_never_swept(store: BaseStore) -> None:
    store.append("a", ["e"], facts={21: "v"})
    store.append("b", ["e"], facts={21: "v"})
    store.delete("a")
    store.delete("b")  # 21: shared, unreferenced
    generation = store._gc_begin()
    # a workflow re-writes the value after gc started: the sweep of that gc must keep it
    store.append("c", ["e"], facts={21: "v"})
    store.delete("c")  # owned by nobody now (it was shared), unreferenced again
    assert store._gc_sweep(generation, set()) == (0, 0)
    assert store.load_fact(21) == "v"
    assert store.gc()["removed"] == 1


# ----------------------------------------------------------------------------- node leases

def test_node_generations_strictly_increase(store: BaseStore) -> None:
    g1 = store.register_node("n1", 30.0, info={"pid": 1})
    g2 = store.register_node("n1", 30.0)
    assert g2 > g1 >= 1
    assert store.register_node("n2", 30.0) >= 1
    with pytest.raises(NodeFencedError) as info:
        store.renew_node("n1", g1, 30.0)  # a restarted node with the same name is a new node
    assert info.value.current_generation == g2 and "registered again" in str(info.value)
    expires = store.renew_node("n1", g2, 30.0)
    assert expires >= store._now_ms() + 29_000


def test_release_and_declare_dead_are_fenced_by_generation(store: BaseStore) -> None:
    g1 = store.register_node("n", 30.0)
    g2 = store.register_node("n", 30.0)
    assert store.declare_dead("n", g1) is False  # an old generation: nothing changes
    assert store.renew_node("n", g2, 30.0)
    assert store.declare_dead("n", g2) is True
    with pytest.raises(NodeFencedError) as info:
        store.renew_node("n", g2, 30.0)
    assert "declared dead" in str(info.value) and not info.value.alive
    assert store.release_node("n", g2) is False  # already dead
    g3 = store.register_node("n", 30.0)
    assert store.release_node("n", g3) is True
    (row,) = store.nodes()
    assert row["generation"] == g3 and row["alive"] is False
    with pytest.raises(NodeFencedError):
        store.renew_node("unknown", 1, 30.0)


def test_nodes_lists_every_node_with_its_running_workflows(store: BaseStore) -> None:
    ga = store.register_node("a", 30.0, info={"host": "h1"})
    gb = store.register_node("b", 30.0)
    store.acquire("w1", "owner", node="a", generation=ga)
    store.acquire("w2", "owner", node="a", generation=ga)
    store.acquire("w3", "owner", node="b", generation=gb)
    store.set_status("w1", "running")
    store.set_status("w2", "idle")
    store.set_status("w3", "running")
    store.release_node("b", gb)
    rows = {r["node"]: r for r in store.nodes()}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["alive"] is True and rows["a"]["workflows"] == ["w1"] and rows["a"]["info"] == {"host": "h1"}
    assert rows["b"]["alive"] is False and rows["b"]["workflows"] == ["w3"]
    assert rows["a"]["lease_expires_at"] > store._now_ms()
    assert set(rows["a"]) == {"node", "generation", "alive", "lease_expires_at", "info", "workflows"}


def test_orphans_are_workflows_whose_owner_node_is_gone(store: BaseStore) -> None:
    live = store.register_node("live", 60.0)
    dead = store.register_node("dead", 60.0)
    old = store.register_node("restarted", 60.0)
    store.register_node("restarted", 60.0)
    short = store.register_node("expired", 0.001)
    for wid, node, gen in (("on-live", "live", live), ("on-dead", "dead", dead),
                           ("on-old-generation", "restarted", old), ("on-expired", "expired", short),
                           ("on-unknown", "never-registered", 1)):
        store.acquire(wid, "o", node=node, generation=gen)
        store.set_status(wid, "running")
    store.acquire("no-node", "o")
    store.set_status("no-node", "running")
    store.set_status("never-acquired", "running")
    store.acquire("idle-on-dead", "o", node="dead", generation=dead)
    store.set_status("idle-on-dead", "idle")
    store.declare_dead("dead", dead)
    deadline = store._now_ms() + 5
    while store._now_ms() <= deadline:  # let the 1 ms lease run out
        pass
    expected = {"on-dead", "on-old-generation", "on-expired", "on-unknown", "no-node", "never-acquired"}
    assert set(store.orphans()) == expected
    assert set(store.orphans(("running", "idle"))) == expected | {"idle-on-dead"}
    with pytest.raises(StoreArgumentError):
        store.orphans(["bogus"])


def test_owner_keeps_its_tuple_shape_and_tells_the_node(store: BaseStore) -> None:
    import pickle

    g = store.register_node("n", 30.0)
    epoch = store.acquire("wf", "host-a", node="n", generation=g)
    owned = store.owner("wf")
    owner, ep = owned  # type: ignore[misc]
    assert (owner, ep) == ("host-a", epoch) and owned == ("host-a", epoch)
    assert owned.node == "n" and owned.generation == g and owned.epoch == epoch
    assert pickle.loads(pickle.dumps(owned)).node == "n"
    store.acquire("wf", "host-b")
    assert store.owner("wf").node is None
    with pytest.raises(StoreArgumentError):
        store.acquire("wf", "x", node="n")  # a node needs its generation


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "5", None])
def test_leases_must_be_positive_seconds(store: BaseStore, bad: object) -> None:
    with pytest.raises(StoreArgumentError):
        store.register_node("n", bad)  # type: ignore[arg-type]


def test_a_too_deep_value_stored_by_an_older_runic_is_an_error_not_a_crash(store: BaseStore) -> None:
    # runic 0.1 accepted a tuple nested 200 deep, and every reader of it then crashed
    from tests.core.test_codec_limits import raw_nested_tuple

    poison = raw_nested_tuple(200)
    key = store._key("wf")
    store._append(key, AppendRow(poison, 0, key_seed(key)), None, [], None)  # a one-event row, as before schema 3
    store._put_facts([(9, poison, fact_crc(9, poison))])
    with pytest.raises(StoreDecodeError) as info:
        list(store.stream("wf"))
    assert "levels" in str(info.value) and store.table_names["events"] in str(info.value)
    with pytest.raises(StoreDecodeError):
        store.load_fact(9)


# ----------------------------------------------------------------------------- group commit

def test_append_many_writes_every_item_and_a_fenced_one_fails_alone(store: BaseStore) -> None:
    ea, eb, ec = store.acquire_many(["a", "b", "c"], "me")
    assert store.owner("b") == ("me", eb) and ea < eb < ec
    store.append("a", ["a0"], epoch=ea)
    stale = store.acquire("b", "thief")  # b's epoch eb is stale from now on
    out = store.append_many([
        ("a", ["a1", "a2"], ea, {11: "fact of a"}, "running"),
        ("b", ["b1"], eb, {12: "fact of b"}, "idle"),
        ("c", [], ec, None, "idle"),
        ("d", [("d", 1)], None, None, None),
        ("e", [object()], None, None, None),
    ])
    assert out[0] == 3 and out[2] == 0 and out[3] == 1
    assert isinstance(out[1], FencedError) and out[1].current_epoch == stale and out[1].owner == "thief"
    assert isinstance(out[4], StoreEncodeError)
    assert list(store.stream("a")) == ["a0", "a1", "a2"] and store.status("a") == "running"
    assert store.load_fact(11) == "fact of a"
    assert not store.exists("b") and store.load_facts([12]) == {} and store.status("b") is None  # nothing of b
    assert list(store.stream("c")) == [] and store.status("c") == "idle"
    assert list(store.stream("d")) == [("d", 1)] and not store.exists("e")
    with pytest.raises(StoreArgumentError, match="twice"):
        raise store.append_many([("x", [1], None, None, None), ("x", [2], None, None, None)])[1]  # type: ignore[misc]
    assert store.append_many([]) == []


def test_append_many_continues_streams_written_one_by_one(store: BaseStore) -> None:
    (e,) = store.acquire_many(["w"], "me")
    for i in range(3):
        store.append("w", [i], epoch=e)
        assert store.append_many([("w", [f"batch{i}", f"more{i}"], e, None, None)]) == [3 * i + 3]
    assert list(store.stream("w")) == [0, "batch0", "more0", 1, "batch1", "more1", 2, "batch2", "more2"]
    assert list(store.stream("w", start=6)) == ["more1", 2, "batch2", "more2"]  # from the middle of a row

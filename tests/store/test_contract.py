"""The store contract: every adapter (MemoryStore, MnesiaStore on disc, MnesiaStore in RAM)
must pass every test here. Rows of spec §8.1 ("store_ets_test / store_mnesia_test" and the
store part of "event_sourced_test") are marked with the row they cover."""

from __future__ import annotations

import threading
import uuid
from typing import Callable

import pytest

import runic
from runic import Fact
from runic.store.checksum import blob_crc, key_seed
from runic.store import (
    STATUSES,
    BaseStore,
    FencedError,
    MemoryStore,
    MnesiaStore,
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
    # §8.1 event_sourced: supports_stream(ETS) is true
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
    # §8.1: the store creates its tables; data written is readable from another process
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
    # §8.1 Mnesia: creating the store twice is harmless (and shares the tables)
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
    # spec quirk 32, kept: list() is the snapshot table, exists() sees the stream too
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
    # §8.1: 20 concurrent writers on distinct ids; read-after-write from another thread
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
    # §8.1 event_sourced: append of 2 events returns cursor 2 and stream yields them
    assert store.append("wf", ["a", "b"]) == 2
    assert list(store.stream("wf")) == ["a", "b"]


def test_appends_are_additive(store: BaseStore) -> None:
    # §8.1 event_sourced: cursor 1, then 2
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
    # spec quirk 31: we keep Mnesia's behaviour for every adapter
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
    store.append("wf", list(range(n)))
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


def test_runner_name_must_be_a_non_empty_string(adapter: str, tmp_path) -> None:
    from .conftest import open_store

    for bad in ["", None, 5]:
        with pytest.raises(StoreArgumentError):
            open_store(adapter, bad, tmp_path)  # type: ignore[arg-type]

"""The cluster primitives on every adapter: the inbox, the one-transaction takeover, and (on
PostgreSQL) the change signals. See ``runic/store/cluster.py``."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from runic.store import BaseStore, FencedError, StoreArgumentError, StoreEncodeError


def running(store: BaseStore, wid: Any, node: str | None = None, generation: int | None = None) -> int:
    epoch = store.acquire(wid, f"{node}/host", node=node, generation=generation) if node else store.acquire(wid, "?")
    store.append(wid, [{"e": 1}], epoch=epoch, status="running")
    return epoch


# ---------------------------------------------------------------------------------- the inbox

def test_inbox_requests_are_numbered_per_workflow_kept_in_order_and_done_once(store: BaseStore) -> None:
    assert store.inbox_pending() == [] and store.inbox_state("w", 1) == ("gone", None)
    assert [store.inbox_put("w", "run", {"input": i}) for i in range(3)] == [1, 2, 3]
    assert store.inbox_put(("t", 7), "stop", {"persist": True}) == 1
    pending = store.inbox_pending()
    assert [(i.workflow_id, i.seq, i.kind, i.payload) for i in pending if i.workflow_id == "w"] == \
        [("w", 1, "run", {"input": 0}), ("w", 2, "run", {"input": 1}), ("w", 3, "run", {"input": 2})]
    assert [i.seq for i in store.inbox_pending(workflow_id=("t", 7))] == [1]
    store.inbox_ack("w", 1)
    assert store.inbox_state("w", 1) == ("done", None) and store.inbox_state("w", 2) == ("pending", None)
    store.inbox_ack("w", 3, "ValueError: no such component")
    assert store.inbox_state("w", 1) == ("gone", None)  # older rows are trimmed
    assert store.inbox_state("w", 3) == ("done", "ValueError: no such component")
    assert [i.workflow_id for i in store.inbox_pending()] == [("t", 7)]
    # numbers never go back: the newest row is kept, done, so the next one is 4
    assert store.inbox_put("w", "cancel", {}) == 4
    store.delete("w")  # deleting the workflow deletes its requests
    assert [i.workflow_id for i in store.inbox_pending()] == [("t", 7)]
    assert store.inbox_put("w", "run", {"input": 9}) == 1


def test_inbox_pending_of_a_node_lists_the_workflows_it_owns(store: BaseStore) -> None:
    ga = store.register_node("a", 60.0)
    gb = store.register_node("b", 60.0)
    running(store, "wa", "a", ga)
    running(store, "wb", "b", gb)
    for wid in ("wa", "wb", "nobody"):
        store.inbox_put(wid, "run", {"input": wid})
    assert [i.workflow_id for i in store.inbox_pending("a", ga)] == ["wa"]
    assert [i.workflow_id for i in store.inbox_pending("b", gb)] == ["wb"]
    assert store.inbox_pending("a", ga + 1) == []
    with pytest.raises(StoreArgumentError):
        store.inbox_pending("a")


def test_a_bad_inbox_request_is_refused_and_nothing_is_written(store: BaseStore) -> None:
    with pytest.raises(StoreArgumentError):
        store.inbox_put("w", "explode", {})
    with pytest.raises(StoreArgumentError):
        store.inbox_put("w", "run", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(StoreEncodeError):
        store.inbox_put("w", "run", {"input": object()})
    with pytest.raises(StoreArgumentError):
        store.inbox_ack("w", 0)
    assert store.inbox_pending() == []
    assert store.inbox_put("w", "run", {"input": 1}) == 1


# ---------------------------------------------------------------------------------- the takeover

def test_the_takeover_declares_expired_nodes_dead_and_claims_a_fair_share(store: BaseStore) -> None:
    dead = store.register_node("dead", 0.05)
    b = store.register_node("b", 60.0)
    c = store.register_node("c", 60.0)
    old = {f"w{i}": running(store, f"w{i}", "dead", dead) for i in range(5)}
    live = running(store, "cs", "c", c)
    time.sleep(0.15)
    first = store.takeover("b", b, "runner/b")
    assert first.dead == [("dead", dead)] and first.live == 2 and first.orphans == 5
    assert len(first.claimed) == 3  # ceil(5 / 2)
    second = store.takeover("c", c, "runner/c")
    assert second.dead == [] and second.orphans == 2 and len(second.claimed) == 1
    third = store.takeover("b", b, "runner/b")
    assert len(third.claimed) == 1 and store.takeover("c", c, "runner/c").claimed == []
    claims = first.claimed + second.claimed + third.claimed
    assert sorted(w for w, _ in claims) == sorted(old)
    for wid, epoch in claims:
        owner = store.owner(wid)
        assert owner.epoch == epoch > old[wid] and owner.node in ("b", "c")
        with pytest.raises(FencedError):  # the dead node's writes are refused from now on
            store.append(wid, [{"late": True}], epoch=old[wid])
    assert store.owner("cs").epoch == live and store.owner("cs").node == "c", "a live node's workflow stays"
    assert not {n["node"]: n for n in store.nodes()}["dead"]["alive"]


def test_a_node_whose_own_lease_ran_out_claims_nothing_and_unknown_owners_are_orphans(store: BaseStore) -> None:
    me = store.register_node("me", 0.05)
    running(store, "unowned")  # no node recorded
    time.sleep(0.15)
    out = store.takeover("me", me, "runner/me")
    assert out.claimed == [] and out.live == 0
    other = store.register_node("other", 60.0)
    out = store.takeover("other", other, "runner/other", limit=0)
    assert out.claimed == [] and out.orphans == 1 and out.dead == [("me", me)]
    out = store.takeover("other", other, "runner/other")
    assert [w for w, _ in out.claimed] == ["unowned"]
    stale = store.register_node("other", 60.0)  # re-registered: its earlier generation's workflows are orphans
    assert [w for w, _ in store.takeover("other", stale, "runner/other").claimed] == ["unowned"]


def test_concurrent_takeovers_never_claim_one_workflow_twice(adapter: str, open_: Callable[[], BaseStore]) -> None:
    store = open_()
    dead = store.register_node("dead", 0.05)
    wids = [f"w{i}" for i in range(40)]
    for wid in wids:
        running(store, wid, "dead", dead)
    nodes = {f"n{i}": store.register_node(f"n{i}", 60.0) for i in range(4)}
    time.sleep(0.15)
    handles = {name: open_() for name in nodes}  # one handle per reaper (own connections on PostgreSQL)
    claimed: dict[str, list[Any]] = {name: [] for name in nodes}
    errors: list[BaseException] = []
    go = threading.Barrier(len(nodes))

    def reap(name: str) -> None:
        try:
            go.wait()
            while True:
                out = handles[name].takeover(name, nodes[name], f"runner/{name}")
                claimed[name].extend(w for w, _ in out.claimed)
                if out.orphans == 0:
                    return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reap, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    everything = [w for ws in claimed.values() for w in ws]
    assert sorted(everything) == sorted(wids), "every orphan claimed exactly once"
    for name, ws in claimed.items():
        for wid in ws:
            assert store.owner(wid).node == name


# ---------------------------------------------------------------------------------- change signals

@pytest.mark.postgres
def test_postgres_signals_status_changes_and_inbox_rows_only(pg_server: Any, runner_name: str) -> None:
    from runic.store import PostgresStore

    from .conftest import PG_DSN

    with PostgresStore(runner_name, dsn=PG_DSN) as store:
        assert store.notifies
        listener = store.changes()
        try:
            epoch = store.acquire("w", "me")
            store.append("w", [{"e": 1}], epoch=epoch, status="running")
            for i in range(5):
                store.append("w", [{"e": i}], epoch=epoch)  # no status change: no signal
            store.set_status("w", "running", epoch=epoch)  # the same status: no signal
            store.append("w", [{"e": 9}], epoch=epoch, status="idle")
            store.inbox_put(("t", 1), "run", {"input": 1})
            store.inbox_ack(("t", 1), 1)
            got: list[Any] = []
            deadline = time.monotonic() + 30
            while len(got) < 4 and time.monotonic() < deadline:
                got.extend(listener.wait(0.5) or [])
            assert [(c.kind, c.workflow_id, c.detail) for c in got] == [
                ("status", "w", "running"), ("status", "w", "idle"), ("inbox", ("t", 1), "put"),
                ("inbox", ("t", 1), "ack")]
            assert listener.wait(0.3) == []
        finally:
            listener.close()
        keeper = store.lease_keeper()
        try:
            g = keeper.register_node("n", 5.0)
            assert keeper.renew_node("n", g, 5.0) > 0 and keeper is not store
        finally:
            keeper.close()
        store.drop_tables()

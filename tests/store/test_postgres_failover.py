"""A primary with a synchronous standby: kill -9 of every process of the primary mid-run,
``pg_ctl promote`` of the standby, and the store configured with both ``nodes`` goes on with
nothing acknowledged missing; then the old primary comes back on its old timeline and the
timeline guard refuses it.

The servers are started by the test (about 3 s: initdb, base backup, promotion), so the test is
marked ``slow`` (CI runs it).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Iterator

import pytest

from runic.store import StoreTimelineError

from . import pg

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

psycopg = pytest.importorskip("psycopg")


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def pair(pg_cluster: pg.Cluster) -> Iterator[tuple[pg.Server, pg.Server]]:
    """A primary and its synchronous standby ``s1`` (both stopped after the test)."""
    tag = uuid.uuid4().hex[:6]
    primary = pg_cluster.server(f"primary-{tag}")
    standby = pg_cluster.server(f"standby-{tag}")
    try:
        primary.initdb()
        primary.start()
        standby.standby_of(primary, "s1")
        standby.start()
        with primary.admin() as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = 's1'")
            conn.execute("SELECT pg_reload_conf()")
            wait_until(lambda: conn.execute("SELECT 1 FROM pg_stat_replication WHERE application_name = 's1' "
                                            "AND sync_state = 'sync'").fetchone(), 60, "a synchronous standby")
        yield primary, standby
    finally:
        for s in (standby, primary):
            s.stop(10)
            s.kill()


def test_failover_to_a_synchronous_standby_loses_nothing_acknowledged(pair: tuple[pg.Server, pg.Server]) -> None:
    from runic.store import PostgresStore

    primary, standby = pair
    nodes = [primary.node, standby.node]
    dsn = primary.dsn(sslmode="disable")
    store = PostgresStore("app", dsn=dsn, nodes=nodes, durability="replicated", failover_timeout=60,
                          connect_timeout=2)
    try:
        assert store.timeline() == 1
        epoch = store.acquire("wf", "writer")
        acked: list[int] = []
        ack_times: list[float] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def writer() -> None:
            i = 0
            try:
                while not stop.is_set():
                    cursor = store.append("wf", [i], epoch=epoch, facts={i + 1: i})
                    assert cursor == i + 1
                    acked.append(cursor)
                    ack_times.append(time.monotonic())
                    i += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        t = threading.Thread(target=writer)
        t.start()
        try:
            wait_until(lambda: len(acked) >= 200, 60, "200 appends on the primary")
            primary.kill()  # every process of the primary, SIGKILL
            at_kill = len(acked)
            standby.promote()
            promoted = time.monotonic()
            wait_until(lambda: len(acked) >= at_kill + 100 or errors, 90, "appends on the promoted standby")
        finally:
            stop.set()
            t.join(120)
        assert not errors, errors
        assert store.timeline() == 2
        resumed = next(t for t in ack_times[at_kill:] if t > promoted) - promoted
        print(f"acked at kill {at_kill}, total {acked[-1]}, found applied on retry "
              f"{store.appends_found_applied}, first ack {resumed:.2f} s after the promotion")
        last = acked[-1]
        # everything acknowledged is on the new primary, once, in order; nothing else
        with PostgresStore("app", dsn=standby.dsn(sslmode="disable")) as check:
            assert list(check.stream("wf")) == list(range(last))
            assert check.load_facts(range(1, last + 1)) == {i + 1: i for i in range(last)}

        # the old primary comes back on timeline 1, first in nodes: the guard refuses it
        primary.start()
        with pytest.raises(StoreTimelineError) as info:
            PostgresStore("app", dsn=dsn, nodes=nodes, durability="replicated", pool_size=1, connect_timeout=2)
        assert info.value.timeline == 1 and info.value.seen == 2 and info.value.server == primary.node
        assert "old primary" in str(info.value) and "Nothing was written" in str(info.value)
        # and a handle already open, whose new primary dies, does not fall back to it
        standby.kill()
        with pytest.raises(StoreTimelineError):
            store.append("wf", ["late"], epoch=epoch)
        with primary.admin() as conn:  # the old primary has none of the appends made after the kill
            rows = conn.execute('SELECT count FROM runic."app.EventCounters"').fetchall()
            assert rows[0][0] <= at_kill + 1
    finally:
        store.close()


def test_observer_reads_go_to_the_standby_and_an_owner_reads_the_primary(pair: tuple[pg.Server, pg.Server]) -> None:
    from runic.store import PostgresStore

    primary, standby = pair
    nodes = [primary.node, standby.node]
    dsn = primary.dsn(sslmode="disable")
    with PostgresStore("app", dsn=dsn, nodes=nodes, durability="applied") as writer, \
            PostgresStore("app", dsn=dsn, nodes=nodes, reads="standby", pool_size=2) as observer:
        writer.append("wf", ["a"], status="running")  # applied: the standby shows it already
        assert observer.status("wf") == "running" and list(observer.stream("wf")) == ["a"]
        in_recovery = observer._cluster.run(lambda c, a: c.execute("SELECT pg_is_in_recovery()").fetchone()[0],
                                            "probe", standby=True)
        assert in_recovery is True  # those reads were answered by the standby
        # what the standby has not received yet is not seen there: stop its replay, write more
        with standby.admin() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            with PostgresStore("app", dsn=dsn, nodes=nodes, durability="local") as fast:
                fast.append("wf", ["b"])
            assert observer.cursor("wf") == 1  # stale by the (paused) replication
            observer.acquire("wf", "observer-now-owner")  # acquire, then read: the primary
            assert observer.cursor("wf") == 2 and list(observer.stream("wf")) == ["a", "b"]
        finally:
            with standby.admin() as conn:
                conn.execute("SELECT pg_wal_replay_resume()")

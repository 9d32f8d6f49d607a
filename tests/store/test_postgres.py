"""PostgresStore beyond the contract suite: errors that name the server and say what to do,
within a bounded time; the schema's versions; MnesiaStore with remote nodes; appends that stay
exactly-once across lost connections; several writer processes; the server's clock.

Failover with a synchronous standby and the timeline guard: ``test_postgres_failover.py``.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import runic
from runic.store import (
    CorruptStoreError,
    FencedError,
    ForeignStoreError,
    MnesiaStore,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreUnavailableError,
    store_class,
)
from runic.store.checksum import blob_crc, count_crc, fact_crc, key_seed, row_crc

from . import pg

pytestmark = pytest.mark.postgres

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def schema(pg_server: pg.Server) -> Iterator[str]:
    """A schema of the test's own (dropped after)."""
    name = f"s_{uuid.uuid4().hex[:10]}"
    yield name
    with pg_server.admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def open_pg(pg_server: pg.Server, schema: str) -> Iterator[Callable[..., Any]]:
    """Open PostgresStore handles on the test's schema; all closed after the test."""
    from runic.store import PostgresStore

    handles: list[Any] = []

    def opener(runner: str = "app", **opts: Any) -> Any:
        opts.setdefault("dsn", pg_server.dsn())
        opts.setdefault("schema", schema)
        s = PostgresStore(runner, **opts)
        handles.append(s)
        return s

    yield opener
    for h in handles:
        h.close()


# ----------------------------------------------------------------------------- registry, names

def test_the_registry_names_postgres(pg_server: pg.Server) -> None:
    from runic.store import PostgresStore

    assert store_class("postgres") is PostgresStore
    assert store_class("runic.store.postgres:PostgresStore") is PostgresStore
    assert runic.store.PostgresStore is PostgresStore
    assert PostgresStore.shared and PostgresStore.streams


def test_tables_have_the_mnesia_names_in_a_schema_of_their_own(open_pg: Callable[..., Any],
                                                               pg_server: pg.Server, schema: str) -> None:
    s = open_pg("app")
    s.save("wf", [1])
    assert s.table_names["logs"] == "app.WorkflowStore" and s.table_names["counters"] == "app.EventCounters"
    with pg_server.admin() as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
    assert {"app.WorkflowStore", "app.EventStream", "app.EventCounters", "app.FactStore", "app.SnapshotStore",
            "app.WorkflowStatus", "app.Nodes", "runic_meta", "runic_tables"} <= tables
    assert s.table_info("WorkflowStore", "type") == "set"
    assert s.table_info("EventStream", "type") == "ordered_set"
    assert s.meta()["schema_version"] == "2"
    assert s.local_dir is None


def test_mnesia_store_with_remote_nodes_is_a_postgres_store(pg_server: pg.Server, schema: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from runic.store import PostgresStore

    monkeypatch.setenv("RUNIC_DATABASE_URL", pg_server.url())
    with MnesiaStore("app", nodes=[pg_server.node], schema=schema) as s:
        assert isinstance(s, PostgresStore) and s.durability == "local"
        s.append("wf", ["e1"])
    with PostgresStore("app", dsn=pg_server.dsn(), schema=schema) as other:
        assert list(other.stream("wf")) == ["e1"]
    # in a children list too: the store actor opens MnesiaStore(**opts)
    spec = MnesiaStore.child_spec({"runner_name": "app", "nodes": [pg_server.node], "schema": schema})
    assert spec.start[1]["nodes"] == [pg_server.node]


# ----------------------------------------------------------------------------- errors

def test_an_unreachable_server_is_an_error_naming_it_within_the_timeout(pg_server: pg.Server) -> None:
    from runic.store import PostgresStore

    port = pg.free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        PostgresStore("app", nodes=[f"127.0.0.1:{port}"], dsn=pg_server.dsn(), connect_timeout=2)
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "runs and listens" in message
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, runic.RunicError)
    assert pg.PASSWORD not in message


def test_a_wrong_password_is_an_access_error(pg_server: pg.Server) -> None:
    from runic.store import PostgresStore

    dsn = pg_server.dsn().replace(pg.PASSWORD, "wrong")
    with pytest.raises(StoreAccessError) as info:
        PostgresStore("app", dsn=dsn, connect_timeout=5)
    message = str(info.value)
    assert "cannot log in" in message and pg.USER in message and pg_server.node in message
    assert "password" in message and "wrong" not in message.replace("wrong-", "")


def test_a_missing_database_says_how_to_create_it(pg_server: pg.Server) -> None:
    from runic.store import PostgresStore

    with pytest.raises(StoreArgumentError) as info:
        PostgresStore("app", dsn=pg_server.dsn("nosuchdb"))
    assert "'nosuchdb' does not exist" in str(info.value) and "createdb nosuchdb" in str(info.value)


def test_a_bad_connection_string_and_bad_options_are_argument_errors(pg_server: pg.Server,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from runic.store import PostgresStore

    monkeypatch.delenv("RUNIC_DATABASE_URL", raising=False)
    with pytest.raises(StoreArgumentError, match="RUNIC_DATABASE_URL"):
        PostgresStore("app")
    with pytest.raises(StoreArgumentError, match="not valid"):
        PostgresStore("app", dsn="host=x port")
    with pytest.raises(StoreArgumentError, match="host:port"):
        PostgresStore("app", dsn=pg_server.dsn(), nodes=["db1:notaport"])
    with pytest.raises(StoreArgumentError, match="durability"):
        PostgresStore("app", dsn=pg_server.dsn(), durability="fsync")
    with pytest.raises(StoreArgumentError, match="disc_copies=False"):
        PostgresStore("app", dsn=pg_server.dsn(), disc_copies=False, durability="local")
    with pytest.raises(StoreArgumentError, match="too long"):
        PostgresStore("r" * 60, dsn=pg_server.dsn())


def test_a_user_who_may_not_create_the_schema_is_told_what_to_run(pg_server: pg.Server, schema: str) -> None:
    from runic.store import PostgresStore

    role = f"u_{uuid.uuid4().hex[:8]}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    try:
        dsn = f"host=127.0.0.1 port={pg_server.port} user={role} password=pw dbname=postgres"
        with pytest.raises(StoreAccessError) as info:
            PostgresStore("app", dsn=dsn, schema=schema)
        assert f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"' in str(info.value)
        with pg_server.admin() as conn:  # what the message says to run
            conn.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
        with PostgresStore("app", dsn=dsn, schema=schema) as s:
            s.append("wf", ["ok"])
            assert s.cursor("wf") == 1
    finally:
        with pg_server.admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f"DROP ROLE {role}")


def test_a_newer_layout_is_refused_untouched(open_pg: Callable[..., Any], pg_server: pg.Server,
                                              schema: str) -> None:
    from runic.store import PostgresStore

    s = open_pg("app")
    s.append("wf", ["e"])
    s.close()
    with pg_server.admin() as conn:
        conn.execute(f"UPDATE \"{schema}\".runic_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError) as info:
        PostgresStore("other", dsn=pg_server.dsn(), schema=schema)
    assert info.value.found == 99 and info.value.supported == 2
    assert "Upgrade runic" in str(info.value) and pg_server.node in str(info.value)
    with pg_server.admin() as conn:  # nothing was created for the refused runner
        assert conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."other.WorkflowStore"',)).fetchone()[0] is None


def test_an_older_layout_is_upgraded_in_place(open_pg: Callable[..., Any], pg_server: pg.Server, schema: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from runic.store import PostgresStore, _pg_schema

    s = open_pg("app")
    s.append("wf", ["e"])
    s.close()
    ran: list[str] = []

    def to_v3(conn: Any, name: str) -> None:
        ran.append(name)
        conn.execute(f'ALTER TABLE "{name}"."app.WorkflowStatus" ADD COLUMN note text')

    monkeypatch.setattr(_pg_schema, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(_pg_schema.MIGRATIONS, 2, to_v3)
    with PostgresStore("app", dsn=pg_server.dsn(), schema=schema) as again:
        assert ran == [schema] and again.meta()["schema_version"] == "3"
        assert list(again.stream("wf")) == ["e"]


def test_a_layout_1_schema_is_upgraded_to_one_row_per_append_losing_nothing(
        open_pg: Callable[..., Any], pg_server: pg.Server, schema: str) -> None:
    """A schema as runic wrote it before layout 2 (one row per event, written by ``append2``:
    the function of the frozen copy ``tests/store/data/pg_schema_v1.py``) is upgraded when
    opened, and every event, fact value and status reads back; appends then go on after it."""
    import importlib.util

    from runic.store import PostgresStore

    spec = importlib.util.spec_from_file_location("pg_schema_v1", Path(__file__).parent / "data" / "pg_schema_v1.py")
    assert spec is not None and spec.loader is not None
    v1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v1)
    s = open_pg("app")
    s.close()
    events = {"wf": [("in", 1), {"k": [1, 2]}, "three"], 7: ["seven"]}
    with pg_server.admin() as conn:  # back to layout 1: its table shape, its function, its rows
        conn.execute(f'ALTER TABLE "{schema}"."app.EventStream" DROP COLUMN batch')
        conn.execute(f'DROP FUNCTION "{schema}"."app.append3"')
        for statement in v1.runner_ddl(schema, "app"):
            conn.execute(statement)
        conn.execute(f"UPDATE \"{schema}\".runic_meta SET value = '1' WHERE key = 'schema_version'")
        call = (f'SELECT * FROM "{schema}"."app.append2"(%s, NULL, %s, %s, %s, %s, %s::bigint[], %s::bytea[], '
                "%s::bigint[], %s, false)")
        for wid, evs in events.items():
            key: Any = wid if isinstance(wid, str) else runic.codec.dumps(wid)
            pk = b"s" + wid.encode() if isinstance(wid, str) else b"b" + key
            seed = key_seed(key)
            blobs = [runic.codec.dumps(e) for e in evs]
            assert conn.execute(call, (pk, 0, count_crc(len(evs), seed), blobs, [blob_crc(b, seed) for b in blobs],
                                       [11], [runic.codec.dumps("v")], [fact_crc(11, runic.codec.dumps("v"))],
                                       "idle")).fetchone()[:2] == (0, len(evs))
    with PostgresStore("app", dsn=pg_server.dsn(), schema=schema) as again:
        assert again.meta()["schema_version"] == "2"
        for wid, evs in events.items():
            assert list(again.stream(wid)) == evs and again.status(wid) == "idle"
        assert again.load_fact(11) == "v"
        assert again.append("wf", ["four", "five"]) == 5
        assert list(again.stream("wf", start=3)) == ["three", "four", "five"]
    with pg_server.admin() as conn:
        assert conn.execute(f"SELECT to_regprocedure('\"{schema}\".\"app.append2\"(bytea, bigint, bigint, "
                            "bigint, bytea[], bigint[], bigint[], bytea[], bigint[], text, boolean)')").fetchone()[0] is None


def test_a_schema_runic_did_not_create_is_refused(pg_server: pg.Server, schema: str) -> None:
    from runic.store import PostgresStore

    with pg_server.admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".invoices (id int)')
    with pytest.raises(ForeignStoreError, match="invoices"):
        PostgresStore("app", dsn=pg_server.dsn(), schema=schema)


def test_dropped_tables_under_an_open_handle_are_an_error_that_says_what_happened(
        open_pg: Callable[..., Any]) -> None:
    a, b = open_pg("app"), open_pg("app")
    a.save("wf", [1])
    b.drop_tables()
    with pytest.raises(CorruptStoreError, match="drop_tables"):
        a.load("wf")


# ----------------------------------------------------------------------------- appends

def test_a_retry_after_an_ambiguous_commit_is_recognised_not_repeated(open_pg: Callable[..., Any],
                                                                      pg_server: pg.Server, schema: str) -> None:
    """The server side of exactly-once: the call a client repeats after losing its connection
    during COMMIT (same expect, same events) finds its events already stored."""
    s = open_pg("app")
    epoch = s.acquire("wf", "me")
    s.append("wf", ["a"], epoch=epoch)
    key = "wf"
    seed = key_seed(key)
    blob = runic.codec.dumps_batch(["b", "c"])
    call = (f'SELECT * FROM "{schema}"."app.append3"(%s, %s, %s, %s, %s, %s, %s, %s::bigint[], %s::bytea[], '
            "%s::bigint[], NULL, %s)")
    args = [b"s" + key.encode(), epoch, 1, count_crc(3, seed), blob, 2, row_crc(2, 2, blob, seed), [], [], []]
    with pg_server.admin() as conn:
        assert conn.execute(call, (*args, False)).fetchone()[:2] == (0, 3)  # committed; the ack was "lost"
        assert conn.execute(call, (*args, True)).fetchone()[:2] == (3, 3)   # the retry: already applied
        assert conn.execute(call, (*args, False)).fetchone()[:2] == (1, 3)  # not a retry: the stream moved on
    assert list(s.stream("wf")) == ["a", "b", "c"]
    # a retry of different events at that place is not mistaken for the lost call
    other = runic.codec.dumps_batch(["x"])
    with pg_server.admin() as conn:
        row = conn.execute(call, (b"s" + key.encode(), epoch, 1, count_crc(2, seed), other, 1,
                                  row_crc(2, 1, other, seed), [], [], [], True)).fetchone()
    assert row[:2] == (1, 3)


def test_a_connection_lost_during_commit_neither_duplicates_nor_loses_the_append(
        open_pg: Callable[..., Any], pg_server: pg.Server) -> None:
    """The server committed, the client never heard it: the store retries with the same
    ``expect`` and finds the events there (ambiguous commits: 2-3 per failover, measured)."""
    proxy = pg.Proxy(pg_server.port)
    try:
        s = open_pg("app", dsn=pg_server.dsn(sslmode="disable"), nodes=[proxy.node], failover_timeout=30)
        epoch = s.acquire("wf", "me")
        assert s.append("wf", ["a"], epoch=epoch) == 1
        for i in range(5):
            proxy.drop_next_answer()
            assert s.append("wf", [f"b{i}"], epoch=epoch, facts={100 + i: i}, status="running") == 2 + i
        assert proxy.dropped == 5
        assert s.appends_found_applied == 5
        assert list(s.stream("wf")) == ["a", "b0", "b1", "b2", "b3", "b4"]
        assert s.load_facts(range(100, 105)) == {100 + i: i for i in range(5)}
        assert s.status("wf") == "running"
    finally:
        proxy.close()


def test_appends_stay_exactly_once_while_connections_are_killed(open_pg: Callable[..., Any],
                                                                 pg_server: pg.Server) -> None:
    """Real lost connections, some of them during COMMIT: every acknowledged append is there
    once, in order, and nothing else is."""
    app = f"victim-{uuid.uuid4().hex[:6]}"
    s = open_pg("app", dsn=pg_server.dsn(application_name=app), pool_size=2, failover_timeout=60)
    epoch = s.acquire("wf", "me")
    stop = threading.Event()
    killed = [0]

    acked: list[int] = []

    def killer() -> None:  # kills sessions while they run a statement (an append, or its COMMIT)
        # Only appends and COMMITs, at most 40 kills, and never twice without an acknowledged
        # append in between. A retried append runs on a new connection, where its first call
        # compiles the function (~5-10 ms instead of ~1), so an unthrottled killer caught every
        # retry; each retry backs off up to 0.5 s, and on a loaded machine (CI runs the suite on
        # two cores) one append outlived its 60 s failover: that measured the killer, not
        # exactly-once.
        rng = random.Random(7)
        last = -1
        with pg_server.admin() as conn:
            while not stop.is_set() and killed[0] < 40:
                if len(acked) <= last:
                    time.sleep(0.002)
                    continue
                rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = %s AND state = 'active' "
                                    "AND (query LIKE '%%append%%' OR query = 'COMMIT')", (app,)).fetchall()
                n = sum(1 for r in rows if r[0])
                if n:
                    killed[0] += n
                    last = len(acked)
                time.sleep(rng.uniform(0.0, 0.01))

    t = threading.Thread(target=killer)
    t.start()
    try:
        for i in range(300):
            cursor = s.append("wf", [i], epoch=epoch, facts={i + 1: f"v{i}"})
            acked.append(cursor)
    finally:
        stop.set()
        t.join()
    assert killed[0] >= 10, f"only {killed[0]} connections were killed: the test proved little"
    assert acked == list(range(1, 301))
    assert list(s.stream("wf")) == list(range(300))
    assert s.load_facts(range(1, 301)) == {i + 1: f"v{i}" for i in range(300)}


def test_a_handle_whose_cursor_is_behind_catches_up(open_pg: Callable[..., Any]) -> None:
    a, b = open_pg("app"), open_pg("app")
    assert a.append("wf", ["a1"]) == 1
    assert b.append("wf", ["b1", "b2"]) == 3  # b never saw wf: it expected 0, the server said 1
    assert a.append("wf", ["a2"]) == 4        # a expected 1
    assert list(a.stream("wf")) == ["a1", "b1", "b2", "a2"]


def test_a_stale_epoch_is_fenced_on_the_fast_path_and_on_a_new_stream(open_pg: Callable[..., Any]) -> None:
    s = open_pg("app")
    old = s.acquire("wf", "a")
    new = s.acquire("wf", "b")  # no stream yet: the epoch lives in a counter row without a count
    assert not s.exists("wf")
    with pytest.raises(FencedError) as info:
        s.append("wf", ["x"], epoch=old)
    assert info.value.current_epoch == new and info.value.owner == "b"
    assert s.append("wf", ["y"], epoch=new) == 1
    with pytest.raises(FencedError):
        s.append("wf", ["z"], epoch=old)
    assert list(s.stream("wf")) == ["y"]


def test_writer_processes_appending_to_one_workflow_stay_gapless(pg_server: pg.Server, spawn: Callable[..., Any],
                                                                 tmp_path: Path) -> None:
    from runic.store import PostgresStore

    runner = f"mp{uuid.uuid4().hex[:8]}"
    go = tmp_path / "go"
    writers = [spawn("append", pg_server.url(), runner, "shared", 2, 60, f"w{i}", go) for i in range(4)]
    for w in writers:
        assert w.line() == {"ready": True}
    go.touch()
    acks = {i: [a["ack"] for a in w.lines()] for i, w in enumerate(writers)}
    for w in writers:
        assert w.wait() == 0, w.stderr()
    with PostgresStore(runner, dsn=pg_server.dsn()) as s:
        try:
            events = list(s.stream("shared"))
            assert len(events) == 4 * 60 * 2 == s.cursor("shared")
            all_acks = sorted(c for cs in acks.values() for c in cs)
            assert all_acks == sorted(set(all_acks)) and all_acks[-1] == len(events)
            for i in range(4):  # each writer's calls are in order, each call's events contiguous
                mine = [(e[1], e[2]) for e in events if e[0] == f"w{i}"]
                assert mine == [(call, j) for call in range(60) for j in range(2)]
        finally:
            s.drop_tables()


def test_leases_use_the_database_clock(open_pg: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    s = open_pg("app")
    server_now = s._clock_ms()
    monkeypatch.setattr(time, "time_ns", lambda: 0)  # this process's clock says 1970
    gen = s.register_node("n1", 5.0)
    (node,) = s.nodes()
    assert node["alive"] and abs(node["lease_expires_at"] - (server_now + 5000)) < 5000
    assert s.renew_node("n1", gen, 5.0) >= server_now + 5000
    s.acquire("wf", "n1/w", node="n1", generation=gen)
    s.set_status("wf", "running")
    assert s.orphans() == []
    assert s.status_times()["wf"] >= server_now


def test_observer_reads_may_go_to_a_standby_but_an_owner_reads_the_primary(open_pg: Callable[..., Any]) -> None:
    # with no standby up, prefer-standby falls back to the primary: the reads still answer
    s = open_pg("app", reads="standby")
    s.append("wf", ["a"])
    assert list(s.stream("wf")) == ["a"] and s.status("wf") is None
    s.acquire("wf", "me")
    assert s.cursor("wf") == 1


def test_a_handle_that_crosses_a_fork_opens_connections_of_its_own(open_pg: Callable[..., Any]) -> None:
    import os

    s = open_pg("app")
    s.append("wf", ["parent"])
    pid = os.fork()
    if pid == 0:  # the child: append through the inherited handle, then leave without cleanup
        code = 1
        try:
            code = 0 if s.append("wf", ["child"]) == 2 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert list(s.stream("wf")) == ["parent", "child"]
    assert s.append("wf", ["parent again"]) == 3  # the parent's connections were not disturbed

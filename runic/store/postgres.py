"""PostgresStore: the Mnesia store's tables on a PostgreSQL cluster, for runic on several machines.

Mnesia's ``nodes`` option replicates a runner's tables across the Erlang cluster; runic keeps
them on an existing distributed engine instead of writing one: PostgreSQL, with streaming
replication, a synchronous standby, and an HA manager (Patroni, pg_auto_failover) that decides
which server is the primary. ``PostgresStore`` implements the whole store protocol (the same
behaviour as every adapter: :class:`~runic.store.base.BaseStore`), with the same table names as
:class:`~runic.store.MnesiaStore` in a database schema of its own (layout:
:mod:`runic.store._pg_schema`; connections: :mod:`runic.store._pg`).

* ``dsn`` (default ``$RUNIC_DATABASE_URL``) is a libpq connection string or URL: user,
  password, database, TLS... ``nodes=["db1:5432", "db2:5432"]`` replaces its hosts: libpq tries
  them in order and keeps the one that accepts writes (``target_session_attrs=read-write``), so
  after a failover the store reconnects to the promoted standby and goes on.
* ``durability`` — what an acknowledged write has survived when the call returns, as
  PostgreSQL's ``synchronous_commit``: ``"async"`` (``off``: nothing waits for a disk; a server
  crash loses the last ~0.6 s of acknowledged writes; what ``disc_copies=False`` selects),
  ``"local"`` (``local``: the primary's WAL is flushed; a failover to a standby may lose what
  it had not received), ``"replicated"`` (``on``: with ``synchronous_standby_names`` set, a
  synchronous standby has flushed it too, so a failover to that standby loses nothing; without
  a synchronous standby it is ``local``), ``"applied"`` (``remote_apply``: the standby has also
  applied it, so reads there see it). Default ``"local"``.
* ``reads="standby"`` sends observer reads (status, logs, streams, facts of a workflow this
  handle has not acquired) to a hot standby when one is up (``prefer-standby``): stale by the
  replication lag, Mnesia's ``dirty_read``. Reads of a workflow this handle acquired always go
  to the primary (acquire, then read), as do ownership, leases, gc and every write.
* ``schema`` (default ``"runic"``) is created on first use, with the tables, if the user may;
  otherwise the error says what to run. A layout written by a newer runic is refused
  (:class:`~runic.store.SchemaVersionError`); an older one is upgraded in place.
* ``pool_size`` connections at most per process and target (shared by the process's
  handles); ``connect_timeout`` bounds each connection attempt, ``failover_timeout`` how long a
  call keeps retrying after losing its server before it raises
  :class:`~runic.store.StoreUnavailableError`.

Appends are one round trip: a call of the server-side function ``"<runner>.append3"`` that
checks the owner's epoch (copied into the counter row), bumps the counter and inserts the
append's one event row (its events as one flat batch, as in :class:`~runic.store.MnesiaStore`),
fact values and status in one transaction. The handle passes the cursor it expects
(``expect``; it remembers each workflow's cursor from its last append or read), so a call whose
connection was lost during ``COMMIT`` is retried with the same ``expect`` and recognised as
already applied: never a duplicate, never a gap. Time stamps and leases use the database
server's clock.

Which thread runs what: every call runs in the caller's thread on a pooled connection; the
pool's threads open connections in the background.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any, ClassVar, Iterable

import psycopg
from psycopg import sql as pgsql

from .. import codec
from . import _pg_cluster as cluster_layout
from . import _pg_schema as layout
from ._pg import _Cluster, acquire_cluster, build_conninfo, default_user, describe, release_cluster, sqlstate
from .base import BaseStore, StaleNode, AppendRow, StaleEpoch
from .checksum import count_crc, key_seed
from .cluster import Change, Changes
from .errors import (
    CorruptStoreError,
    ForeignStoreError,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreError,
)

__all__ = ["PostgresStore", "DURABILITY_MODES", "READS"]

log = logging.getLogger("runic.store")

DURABILITY_MODES: dict[str, str] = {"async": "off", "local": "local", "replicated": "on", "applied": "remote_apply"}
"""``durability`` -> PostgreSQL's ``synchronous_commit``."""

READS = ("primary", "standby")

_I63 = 1 << 63
_U64 = 1 << 64
_MAX_IDENT = 63  # PostgreSQL truncates longer identifiers
_CURSOR_CACHE = 10_000  # workflows whose cursor a handle remembers


def _signed(h: int) -> int:
    return h - _U64 if h >= _I63 else h


def _pk(key: Any) -> bytes:
    """The ``bytea`` form of a workflow key (see :mod:`runic.store._pg_schema`)."""
    if type(key) is str:
        return b"s" + key.encode("utf-8", "surrogatepass")
    return b"b" + bytes(key)


def _unpk(raw: bytes | memoryview) -> Any:
    raw = bytes(raw)
    if raw[:1] == b"s":
        return raw[1:].decode("utf-8", "surrogatepass")
    return raw[1:]


class PostgresStore(BaseStore):
    """The store on PostgreSQL. See the module documentation for the options.

    ``PostgresStore(runner_name, dsn=None, nodes=None, disc_copies=True, *,
    durability="local", reads="primary", schema="runic", pool_size=4, connect_timeout=5.0,
    failover_timeout=30.0)``.
    """

    kind: ClassVar[str] = "postgres"

    def __init__(
        self,
        runner_name: str,
        dsn: str | None = None,
        nodes: Iterable[str] | None = None,
        disc_copies: bool = True,
        *,
        durability: str | None = None,
        reads: str = "primary",
        schema: str = "runic",
        pool_size: int = 4,
        connect_timeout: float = 5.0,
        failover_timeout: float = 30.0,
        **opts: Any,
    ) -> None:
        super().__init__(runner_name, **opts)
        if durability is None:
            durability = "local" if disc_copies else "async"
        elif not disc_copies and durability != "async":
            raise StoreArgumentError(
                f"PostgresStore({runner_name!r}): disc_copies=False means durability='async'; "
                f"got durability={durability!r} too. Give one of them"
            )
        if durability not in DURABILITY_MODES:
            raise StoreArgumentError(f"durability must be one of {sorted(DURABILITY_MODES)}, got {durability!r}")
        if reads not in READS:
            raise StoreArgumentError(f"reads must be 'primary' or 'standby', got {reads!r}")
        if not isinstance(schema, str) or not schema or len(schema.encode()) > _MAX_IDENT:
            raise StoreArgumentError(f"schema must be a non-empty name of at most {_MAX_IDENT} bytes, got {schema!r}")
        longest = max(len(n) for n in (layout.table_name(runner_name, r) for r in layout.ROLES))
        if len(runner_name.encode()) + 14 > _MAX_IDENT or longest > _MAX_IDENT:
            raise StoreArgumentError(
                f"runner name {runner_name!r} is too long for PostgreSQL: its table names "
                f"('{runner_name}.WorkflowStatus') must fit in {_MAX_IDENT} bytes; use a shorter name"
            )
        if type(pool_size) is not int or pool_size < 1:
            raise StoreArgumentError(f"pool_size must be an int >= 1, got {pool_size!r}")
        for name, value in (("connect_timeout", connect_timeout), ("failover_timeout", failover_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise StoreArgumentError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(nodes, str):
            nodes = [nodes]
        node_list = list(nodes) if nodes is not None else None
        dsn = dsn if dsn is not None else os.environ.get("RUNIC_DATABASE_URL")
        if dsn is None and not node_list:
            raise StoreArgumentError(
                f"PostgresStore({runner_name!r}) needs a database: pass dsn= (e.g. "
                "'postgresql://user:password@db1:5432/app'), set $RUNIC_DATABASE_URL, or give nodes="
            )
        self.durability = durability
        self.disc_copies = durability != "async"
        self.reads = reads
        self.schema = schema
        sync = DURABILITY_MODES[durability]
        conninfo = build_conninfo(dsn or "", node_list, session_attrs="read-write", synchronous_commit=sync,
                                  connect_timeout=connect_timeout)
        standby = None
        if reads == "standby":
            standby = build_conninfo(dsn or "", node_list, session_attrs="prefer-standby",
                                     synchronous_commit=sync, connect_timeout=connect_timeout)
        user = default_user(conninfo)
        #: ``host:port,.../dbname (schema 'runic')``: where the tables are, for messages
        self.where = f"PostgreSQL {describe(conninfo)} (schema {schema!r})"
        self.path: str | None = None
        self.table_names = {role: layout.table_name(runner_name, role) for role in layout.ROLES}
        self._cluster_args = (conninfo, standby, pool_size, float(connect_timeout), float(failover_timeout), user)
        self._cluster: _Cluster = acquire_cluster(*self._cluster_args)
        self._lock = threading.Lock()
        self._cursors: OrderedDict[bytes, int] = OrderedDict()
        self._owned: set[bytes] = set()
        #: appends whose connection was lost during COMMIT and that the retry found already
        #: stored (each would have been a duplicate without ``expect``)
        self.appends_found_applied = 0
        try:
            self._prepare_sql()
            self._ensure_schema()
        except BaseException:
            release_cluster(self._cluster)
            raise
        log.debug("opened %r", self)

    # ------------------------------------------------------------------ public extras

    @property
    def storage_type(self) -> str:
        """``"disc_copies"`` (durability local, replicated, applied) or ``"ram_copies"`` (async)."""
        return "disc_copies" if self.disc_copies else "ram_copies"

    def meta(self) -> dict[str, str]:
        """The ``runic_meta`` rows of the schema (layout version, codec version, creator...)."""
        self._check_open()
        rows = self._run(lambda c, a: c.execute(self._q("SELECT key, value FROM {s}.runic_meta")).fetchall(),
                         "read meta")
        return {k: v for k, v in rows}

    def timeline(self) -> int:
        """The timeline of the primary this handle writes to (it grows by one per promotion)."""
        self._check_open()
        return int(self._run(lambda c, a: c.timeline, "timeline"))

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<PostgresStore {self.runner_name!r} {self.durability} {self.where}{state}>"

    # ------------------------------------------------------------------ internals

    def _where(self) -> str:
        return f" of {self.where}"

    def _q(self, text: str) -> pgsql.Composed:
        return pgsql.SQL(text).format(s=pgsql.Identifier(self.schema))

    def _run(self, fn: Any, what: str, *, key: bytes | None = None, standby: bool = False) -> Any:
        """``fn(conn, attempt)`` on the primary (or the standby, for an observer read of a
        workflow this handle does not own), with errors translated."""
        self._check_open()
        use_standby = standby and self.reads == "standby" and (key is None or key not in self._owned)
        cluster = self._cluster
        if cluster.pid != os.getpid():  # this handle crossed a fork: connections of our own
            cluster = self._cluster = acquire_cluster(*self._cluster_args)
        try:
            return cluster.run(fn, what, standby=use_standby)
        except (StoreError, StaleEpoch, StaleNode):
            raise
        except psycopg.Error as exc:
            raise self._error(exc, what) from exc

    def _error(self, exc: psycopg.Error, what: str) -> StoreError:
        state = sqlstate(exc)
        msg = " ".join(str(exc).split())
        if state in ("42P01", "42883", "3F000"):  # undefined table / function / schema
            self._cluster.ensured.discard((self.schema, self.runner_name))
            return CorruptStoreError(
                f"{what} failed: a table or function of runner {self.runner_name!r} is missing from "
                f"{self.where} ({msg}). Its tables were dropped (drop_tables), or changed by "
                "something other than runic; open a new store handle to create them again"
            )
        if state == "23505":
            return CorruptStoreError(
                f"{what} failed: {self.where} is inconsistent ({msg}); events exist beyond the "
                "stored counter. Restore it from a backup or delete the workflow"
            )
        if state == "42501":
            return StoreAccessError(
                f"{what} failed on {self.where}: {msg}. Grant this user the rights on schema "
                f"{self.schema!r} and its tables (or connect as their owner)"
            )
        if isinstance(exc, psycopg.DataError) or state in ("22021", "22P05"):
            return StoreArgumentError(f"{what}: PostgreSQL cannot store this value ({msg})")
        if state == "53100":
            return StoreError(f"{what} failed: the disk of {self.where} is full ({msg}). Free space and retry")
        return StoreError(f"{what} failed on {self.where}: {msg}")

    def _prepare_sql(self) -> None:
        s = pgsql.Identifier(self.schema)
        t = {role: pgsql.SQL("{}.{}").format(s, pgsql.Identifier(name)) for role, name in self.table_names.items()}
        f = {k: pgsql.SQL("{}.{}").format(s, pgsql.Identifier(v))
             for k, v in {**layout.function_names(self.runner_name),
                          **cluster_layout.cluster_functions(self.runner_name)}.items()}
        self._t = t

        def q(text: str) -> bytes:
            composed = pgsql.SQL(text).format(s=s, now=pgsql.SQL(layout.NOW_MS), **t, **f)
            return composed.as_string(None).encode()

        gc_key = f"gc_gen/{self.runner_name}"
        self._gc_key = gc_key
        self._sql: dict[str, bytes] = {
            "append": q("SELECT * FROM {append}(%b::bytea, %s::bigint, %s::bigint, %s::bigint, %b::bytea, "
                        "%s::int, %s::bigint, %s::bigint[], %b::bytea[], %s::bigint[], %s::text, %s::boolean)"),
            "acquire": q("SELECT {acquire}(%b::bytea, %s::text, %s::text, %s::bigint)"),
            "set_status": q("SELECT * FROM {set_status}(%b::bytea, %s::text, %s::bigint)"),
            "put_log": q("INSERT INTO {logs} (workflow_id, log, crc, updated_at) VALUES (%b, %b, %s, {now}) "
                         "ON CONFLICT (workflow_id) DO UPDATE SET log = excluded.log, crc = excluded.crc, "
                         "updated_at = excluded.updated_at"),
            "get_log": q("SELECT log, crc FROM {logs} WHERE workflow_id = %b"),
            "log_keys": q("SELECT workflow_id FROM {logs}"),
            "exists": q("SELECT EXISTS (SELECT 1 FROM {logs} WHERE workflow_id = %b) OR EXISTS "
                        "(SELECT 1 FROM {counters} WHERE workflow_id = %b AND count IS NOT NULL)"),
            "count": q("SELECT count, crc FROM {counters} WHERE workflow_id = %b AND count IS NOT NULL"),
            # the row holding event %s, then the rows that start at or before the last one wanted
            "rows": q("SELECT seq, batch, event, crc FROM {events} WHERE workflow_id = %b AND seq >= "
                      "coalesce((SELECT max(seq) FROM {events} WHERE workflow_id = %b AND seq <= %s), %s) "
                      "AND seq <= %s ORDER BY seq LIMIT %s"),
            "put_snapshot": q("INSERT INTO {snapshots} (workflow_id, cursor, snapshot, crc, updated_at) "
                              "VALUES (%b, %s, %b, %s, {now}) ON CONFLICT (workflow_id) DO UPDATE SET "
                              "cursor = excluded.cursor, snapshot = excluded.snapshot, crc = excluded.crc, "
                              "updated_at = excluded.updated_at"),
            "get_snapshot": q("SELECT cursor, snapshot, crc FROM {snapshots} WHERE workflow_id = %b"),
            "pin_facts": q("INSERT INTO {facts} (fact_hash, value, crc, owner, pinned, gen) "
                           "SELECT u.h, u.v, u.c, NULL, true, 0 FROM unnest(%s::bigint[], %b::bytea[], "
                           "%s::bigint[]) AS u(h, v, c) ON CONFLICT (fact_hash) DO UPDATE SET "
                           "value = excluded.value, crc = excluded.crc, pinned = true"),
            "get_fact": q("SELECT value, crc FROM {facts} WHERE fact_hash = %s"),
            "get_facts": q("SELECT fact_hash, value, crc FROM {facts} WHERE fact_hash = ANY(%s::bigint[])"),
            "del_facts": q("DELETE FROM {facts} WHERE fact_hash = ANY(%s::bigint[])"),
            "workflow_keys": q("SELECT workflow_id FROM {logs} UNION SELECT workflow_id FROM {counters} "
                               "UNION SELECT workflow_id FROM {snapshots} UNION SELECT workflow_id FROM {status}"),
            "gc_begin": q("INSERT INTO {s}.runic_meta (key, value) VALUES (%s, '1') ON CONFLICT (key) DO UPDATE "
                          "SET value = (runic_meta.value::bigint + 1)::text RETURNING value::bigint"),
            "gc_candidates": q("SELECT fact_hash, owner FROM {facts} WHERE NOT pinned AND gen < %s"),
            "owner": q("SELECT owner, epoch, node, generation FROM {status} WHERE workflow_id = %b"),
            "get_status": q("SELECT status FROM {status} WHERE workflow_id = %b"),
            "all_status": q("SELECT workflow_id, status FROM {status} WHERE status IS NOT NULL"),
            "status_times": q("SELECT workflow_id, updated_at FROM {status}"),
            "register_node": q("INSERT INTO {nodes} AS n (node, generation, alive, lease_expires_at, info, updated_at) "
                               "VALUES (%s, 1, true, {now} + %s, %b, {now}) ON CONFLICT (node) DO UPDATE SET "
                               "generation = n.generation + 1, alive = true, lease_expires_at = excluded.lease_expires_at, "
                               "info = excluded.info, updated_at = excluded.updated_at RETURNING generation"),
            "renew_node": q("UPDATE {nodes} SET lease_expires_at = {now} + %s, updated_at = {now} "
                            "WHERE node = %s AND generation = %s AND alive RETURNING lease_expires_at"),
            "node": q("SELECT generation, alive FROM {nodes} WHERE node = %s"),
            "end_node": q("UPDATE {nodes} SET alive = false, lease_expires_at = {now}, updated_at = {now} "
                          "WHERE node = %s AND generation = %s AND alive"),
            "all_nodes": q("SELECT node, generation, alive, lease_expires_at, info FROM {nodes} ORDER BY node"),
            "running_owners": q("SELECT workflow_id, node, generation FROM {status} "
                                "WHERE status = 'running' AND node IS NOT NULL"),
            "orphans": q("SELECT st.workflow_id FROM {status} st LEFT JOIN {nodes} n ON n.node = st.node "
                         "WHERE st.status = ANY(%s::text[]) AND (st.node IS NULL OR n.node IS NULL OR "
                         "n.generation IS DISTINCT FROM st.generation OR NOT n.alive OR n.lease_expires_at <= {now})"),
            "clock": q("SELECT {now}"),
            # -- the cluster (runic.store.cluster, runic.store._pg_cluster)
            "takeover": q("SELECT r_kind, r_wid, r_node, r_num FROM {takeover}(%s::text, %s::bigint, %s::text, "
                          "%s::bigint)"),
            "inbox_put": q("SELECT {inbox_put}(%b::bytea, %s::text, %b::bytea, %s::bigint)"),
            "inbox_all": q("SELECT workflow_id, seq, kind, payload, crc FROM {inbox} WHERE NOT done "
                           "ORDER BY workflow_id, seq"),
            "inbox_of": q("SELECT workflow_id, seq, kind, payload, crc FROM {inbox} WHERE NOT done "
                          "AND workflow_id = %b ORDER BY seq"),
            "inbox_owned": q("SELECT i.workflow_id, i.seq, i.kind, i.payload, i.crc FROM {inbox} i "
                             "JOIN {status} st ON st.workflow_id = i.workflow_id WHERE NOT i.done "
                             "AND st.node = %s AND st.generation = %s ORDER BY i.workflow_id, i.seq"),
            "inbox_ack": q("WITH trimmed AS (DELETE FROM {inbox} WHERE workflow_id = %b AND seq < %s) "
                           "UPDATE {inbox} SET done = true, payload = NULL, error = %s "
                           "WHERE workflow_id = %b AND seq = %s"),
            "inbox_state": q("SELECT done, error FROM {inbox} WHERE workflow_id = %b AND seq = %s"),
        }
        self._delete_sql = [q(f"DELETE FROM {{{role}}} WHERE workflow_id = %b")
                            for role in ("logs", "events", "counters", "snapshots", "status", "inbox")]
        self._del_owned = q("DELETE FROM {facts} WHERE owner = %b AND NOT pinned")

    # -- the schema

    def _ensure_schema(self) -> None:
        """Create or check the schema and this runner's tables (once per process and target)."""
        cluster = self._cluster
        mark = (self.schema, self.runner_name)
        if mark in cluster.ensured:
            return
        with cluster.lock:
            if mark in cluster.ensured:
                return
            conn = cluster.connect()
            try:
                self._ensure_with(conn)
            except psycopg.Error as exc:
                raise self._schema_error(exc) from exc
            finally:
                conn.close()
            cluster.ensured.add(mark)

    def _schema_error(self, exc: psycopg.Error) -> StoreError:
        if sqlstate(exc) == "42501":
            user = self._cluster.user or "<your user>"
            return StoreAccessError(
                f"cannot create the runic schema {self.schema!r} on {self.where}: "
                f"{' '.join(str(exc).split())}. Ask the database owner to run "
                f"`CREATE SCHEMA \"{self.schema}\" AUTHORIZATION \"{user}\"` (or to grant CREATE on "
                "the database), or pass schema= a schema you own"
            )
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(f"opening {self.where} failed: {' '.join(str(exc).split())}")
        return self._error(exc, "open")

    def _ensure_with(self, conn: Any) -> None:
        schema = self.schema
        q = self._q
        with conn.transaction():
            # one creator (or upgrader) at a time, across processes and machines
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"runic schema {schema}",))
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            meta = conn.execute("SELECT to_regclass(%s)", (f"{layout.quote(schema)}.runic_meta",)).fetchone()[0]
            if exists and meta is None:
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1 LIMIT 5", (schema,))]
                if tables:
                    raise ForeignStoreError(
                        f"the schema {schema!r} on {self.where} holds tables runic did not create "
                        f"({', '.join(tables)}). Nothing was changed. Pass schema= another name"
                    )
            if not exists:
                conn.execute(q("CREATE SCHEMA {s}"))
                log.info("created the runic schema %r on %s", schema, self.where)
            if meta is None:
                self._create_meta(conn)
            else:
                self._check_version(conn)
            ready = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regproc(%s) IS NOT NULL",
                (f"{layout.quote(schema)}.{layout.quote(self.table_names['nodes'])}",
                 f"{layout.quote(schema)}.{layout.quote(cluster_layout.cluster_functions(self.runner_name)['takeover'])}"),
            ).fetchone()[0]
            if not ready:  # (the cluster objects come last: a schema without them gets them now)
                for statement in (layout.runner_ddl(schema, self.runner_name)
                                  + cluster_layout.cluster_ddl(schema, self.runner_name)):
                    conn.execute(statement.encode())
                now = conn.execute(f"SELECT {layout.NOW_MS}").fetchone()[0]
                for role, (_suffix, kind, attrs) in layout.ROLES.items():
                    conn.execute(
                        q("INSERT INTO {s}.runic_tables (name, runner, role, type, attributes, storage_type, "
                          "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING"),
                        (self.table_names[role], self.runner_name, role, kind, ",".join(attrs), "disc_copies", now),
                    )
                log.info("created the tables of runner %r on %s", self.runner_name, self.where)

    def _create_meta(self, conn: Any) -> None:
        from .. import __version__

        for statement in layout.meta_ddl(self.schema):
            conn.execute(statement.encode())
        now = conn.execute(f"SELECT {layout.NOW_MS}").fetchone()[0]
        rows = [("schema_version", str(layout.SCHEMA_VERSION)), ("codec_version", str(codec.CODEC_VERSION)),
                ("created_by", f"runic {__version__}"), ("created_at", str(now))]
        with conn.cursor() as cur:
            cur.executemany(self._q("INSERT INTO {s}.runic_meta (key, value) VALUES (%s, %s) "
                                    "ON CONFLICT (key) DO NOTHING"), rows)

    def _check_version(self, conn: Any) -> None:
        row = conn.execute(self._q("SELECT value FROM {s}.runic_meta WHERE key = 'schema_version'")).fetchone()
        try:
            found = int(row[0]) if row else None
        except ValueError:
            found = None
        if found is None or found < 1:
            raise CorruptStoreError(
                f"the runic schema on {self.where} has no valid layout version (found "
                f"{row[0] if row else None!r}); it is damaged. Restore it from a backup, or pass schema= another name"
            )
        if found > layout.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the runic schema on {self.where} uses layout version {found}, newer than the "
                f"version {layout.SCHEMA_VERSION} this runic supports. Nothing was changed. "
                "Upgrade runic to use it (or pass schema= another name)",
                None, found, layout.SCHEMA_VERSION,
            )
        while found < layout.SCHEMA_VERSION:
            step = layout.MIGRATIONS.get(found)
            if step is None:
                raise SchemaVersionError(
                    f"the runic schema on {self.where} uses layout version {found}, and this runic "
                    f"has no migration from it. Nothing was changed. Open it with the runic version "
                    "that wrote it and export the workflows",
                    None, found, layout.SCHEMA_VERSION,
                )
            log.info("migrating the runic schema on %s from layout %d to %d", self.where, found, found + 1)
            step(conn, self.schema)
            found += 1
            conn.execute(self._q("UPDATE {s}.runic_meta SET value = %s WHERE key = 'schema_version'"),
                         (str(found),))

    # -- the cursor each workflow was last seen at (what append expects)

    def _remember(self, pk: bytes, count: int) -> None:
        with self._lock:
            cursors = self._cursors
            cursors[pk] = count
            cursors.move_to_end(pk)
            if len(cursors) > _CURSOR_CACHE:
                cursors.popitem(last=False)

    # ------------------------------------------------------------------ primitives

    def _put_log(self, key: Any, blob: bytes, crc: int, updated_at: int) -> None:
        sql, pk = self._sql["put_log"], _pk(key)
        self._run(lambda c, a: c.execute(sql, (pk, blob, crc)), "save")

    def _get_log(self, key: Any) -> tuple[bytes, int] | None:
        sql, pk = self._sql["get_log"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk,)).fetchone(), "load", key=pk, standby=True)
        return None if row is None else (bytes(row[0]), row[1])

    def _log_keys(self) -> list[Any]:
        sql = self._sql["log_keys"]
        return [_unpk(r[0]) for r in self._run(lambda c, a: c.execute(sql).fetchall(), "list", standby=True)]

    def _exists(self, key: Any) -> bool:
        sql, pk = self._sql["exists"], _pk(key)
        return bool(self._run(lambda c, a: c.execute(sql, (pk, pk)).fetchone()[0], "exists", key=pk, standby=True))

    def _append(self, key: Any, row: AppendRow | None, epoch: int | None,
                facts: list[tuple[int, bytes, int]], status: tuple[str, int] | None) -> int:
        sql = self._sql["append"]
        pk = _pk(key)
        n = row.events if row is not None else 0
        blob = row.blob if row is not None else None
        batch = row.n if row is not None else 0
        seed = row.seed if row is not None else key_seed(key)
        # (NULL rather than empty arrays: adapting parameters is a good part of the client's cost)
        fh = [_signed(h) for h, _, _ in facts] if facts else None
        fv = [b for _, b, _ in facts] if facts else None
        fc = [c for _, _, c in facts] if facts else None
        st = status[0] if status is not None else None
        with self._lock:
            expect = self._cursors.get(pk, 0)
        for _ in range(10_000):
            new_crc = count_crc(expect + n, seed)
            row_crc = row.crc(expect + 1) if row is not None else None

            # attempt > 0: the connection of an earlier attempt was lost, maybe during COMMIT;
            # the function then recognises the row it already stored (the same expect)
            def call(conn: Any, attempt: int, expect: int = expect, new_crc: int = new_crc,
                     row_crc: int | None = row_crc) -> Any:
                return conn.execute(sql, (pk, epoch, expect, new_crc, blob, batch, row_crc, fh, fv, fc, st,
                                          attempt > 0)).fetchone()

            code, cnt, cur_epoch, cur_owner = self._run(call, "append")
            if code in (layout.APPEND_OK, layout.APPEND_APPLIED):
                if code == layout.APPEND_APPLIED:
                    self.appends_found_applied += 1
                    log.info("append to %r on %s: committed before its connection was lost; not repeated",
                             key, self.where)
                self._remember(pk, cnt)
                return int(cnt)
            if code == layout.APPEND_FENCED:
                raise StaleEpoch(int(cur_epoch), cur_owner)
            expect = max(int(cnt), 0)  # APPEND_MOVED: another writer appended; try at its cursor
        raise StoreError(f"append to {key!r} on {self.where} kept losing the race for the stream's end")

    def _count(self, key: Any) -> tuple[int, int] | None:
        sql, pk = self._sql["count"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk,)).fetchone(), "stream", key=pk, standby=True)
        if row is None:
            return None
        if self.reads != "standby" or pk in self._owned:
            self._remember(pk, row[0])
        return row[0], row[1]

    def _read_rows(self, key: Any, first: int, last: int, limit: int) -> list[tuple[int, int, bytes, int]]:
        sql, pk = self._sql["rows"], _pk(key)
        rows = self._run(lambda c, a: c.execute(sql, (pk, pk, first, first, last, limit)).fetchall(), "stream",
                         key=pk, standby=True)
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def _put_snapshot(self, key: Any, cursor: int, blob: bytes, crc: int) -> None:
        sql, pk = self._sql["put_snapshot"], _pk(key)
        self._run(lambda c, a: c.execute(sql, (pk, cursor, blob, crc)), "save_snapshot")

    def _get_snapshot(self, key: Any) -> tuple[int, bytes, int] | None:
        sql, pk = self._sql["get_snapshot"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk,)).fetchone(), "load_snapshot", key=pk, standby=True)
        return None if row is None else (row[0], bytes(row[1]), row[2])

    def _put_facts(self, items: list[tuple[int, bytes, int]]) -> None:
        sql = self._sql["pin_facts"]
        args = ([_signed(h) for h, _, _ in items], [b for _, b, _ in items], [c for _, _, c in items])
        self._run(lambda c, a: c.execute(sql, args), "save_fact")

    def _get_fact(self, fact_hash: int) -> tuple[bytes, int] | None:
        sql = self._sql["get_fact"]
        row = self._run(lambda c, a: c.execute(sql, (_signed(fact_hash),)).fetchone(), "load_fact", standby=True)
        return None if row is None else (bytes(row[0]), row[1])

    def _get_facts(self, fact_hashes: list[int]) -> list[tuple[int, bytes, int]]:
        sql = self._sql["get_facts"]
        signed = [_signed(h) for h in fact_hashes]
        rows = self._run(lambda c, a: c.execute(sql, (signed,)).fetchall(), "load_facts", standby=True)
        return [(h & 0xFFFFFFFFFFFFFFFF, bytes(v), crc) for h, v, crc in rows]

    def _delete_facts(self, fact_hashes: list[int]) -> int:
        sql = self._sql["del_facts"]
        signed = [_signed(h) for h in fact_hashes]
        return int(self._run(lambda c, a: c.execute(sql, (signed,)).rowcount, "delete_facts"))

    def _workflow_keys(self) -> set[Any]:
        sql = self._sql["workflow_keys"]
        return {_unpk(r[0]) for r in self._run(lambda c, a: c.execute(sql).fetchall(), "gc")}

    def _gc_begin(self) -> int:
        sql, gc_key = self._sql["gc_begin"], self._gc_key
        return int(self._run(lambda c, a: c.execute(sql, (gc_key,)).fetchone()[0], "gc"))

    def _gc_sweep(self, generation: int, referenced: set[int]) -> tuple[int, int]:
        keys_sql, candidates, delete = self._sql["workflow_keys"], self._sql["gc_candidates"], self._sql["del_facts"]

        def txn(conn: Any, attempt: int) -> tuple[int, int]:
            with conn.transaction():
                keys = {bytes(r[0]) for r in conn.execute(keys_sql)}
                doomed, kept = [], 0
                for signed, owner in conn.execute(candidates, (generation,)).fetchall():
                    if owner is not None and bytes(owner) in keys:
                        continue
                    if signed & 0xFFFFFFFFFFFFFFFF in referenced:
                        kept += 1
                    else:
                        doomed.append(signed)
                if doomed:
                    conn.execute(delete, (doomed,))
                return len(doomed), kept

        result: tuple[int, int] = self._run(txn, "gc")
        return result

    def _delete(self, key: Any) -> None:
        stmts, del_owned, pk = self._delete_sql, self._del_owned, _pk(key)

        def txn(conn: Any, attempt: int) -> None:
            with conn.transaction():
                for sql in stmts:
                    conn.execute(sql, (pk,))
                conn.execute(del_owned, (pk,))

        self._run(txn, "delete")
        with self._lock:
            self._cursors.pop(pk, None)

    def _acquire(self, key: Any, owner: str, now_ms: int, node: str | None,
                 generation: int | None) -> int:
        sql, pk = self._sql["acquire"], _pk(key)
        epoch = int(self._run(lambda c, a: c.execute(sql, (pk, owner, node, generation)).fetchone()[0], "acquire"))
        with self._lock:
            self._owned.add(pk)
            self._cursors.pop(pk, None)  # read the stream again (from the primary) before appending
        return epoch

    def _get_owner(self, key: Any) -> tuple[str, int, str | None, int | None] | None:
        sql, pk = self._sql["owner"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk,)).fetchone(), "owner")
        if row is None or row[0] is None:
            return None
        return (row[0], row[1], row[2], row[3])

    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        sql, pk = self._sql["set_status"], _pk(key)
        code, cur_epoch, cur_owner = self._run(lambda c, a: c.execute(sql, (pk, status, epoch)).fetchone(),
                                               "set_status")
        if code == layout.APPEND_FENCED:
            raise StaleEpoch(int(cur_epoch), cur_owner)

    def _get_status(self, key: Any) -> str | None:
        sql, pk = self._sql["get_status"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk,)).fetchone(), "status", key=pk, standby=True)
        return None if row is None or row[0] is None else str(row[0])  # (NULL: acquired, no status yet)

    def _all_status(self) -> list[tuple[Any, str]]:
        sql = self._sql["all_status"]
        rows = self._run(lambda c, a: c.execute(sql).fetchall(), "list_status", standby=True)
        return [(_unpk(k), s) for k, s in rows]

    def _status_times(self) -> list[tuple[Any, int]]:
        sql = self._sql["status_times"]
        rows = self._run(lambda c, a: c.execute(sql).fetchall(), "status_times", standby=True)
        return [(_unpk(k), t) for k, t in rows]

    # -- node leases (the database server's clock)

    def _clock_ms(self) -> int:
        sql = self._sql["clock"]
        return int(self._run(lambda c, a: c.execute(sql).fetchone()[0], "clock"))

    def _register_node(self, node: str, lease_ms: int, info: bytes | None, now_ms: int) -> int:
        sql = self._sql["register_node"]
        return int(self._run(lambda c, a: c.execute(sql, (node, lease_ms, info)).fetchone()[0], "register_node"))

    def _renew_node(self, node: str, generation: int, lease_ms: int, now_ms: int) -> int:
        renew, current = self._sql["renew_node"], self._sql["node"]

        def call(conn: Any, attempt: int) -> Any:
            row = conn.execute(renew, (lease_ms, node, generation)).fetchone()
            if row is not None:
                return row[0]
            found = conn.execute(current, (node,)).fetchone()
            raise StaleNode(None if found is None else found[0], bool(found and found[1]))

        return int(self._run(call, "renew_node"))

    def _end_node(self, node: str, generation: int, now_ms: int) -> bool:
        sql = self._sql["end_node"]
        return bool(self._run(lambda c, a: c.execute(sql, (node, generation)).rowcount, "end_node"))

    def _all_nodes(self) -> list[tuple[str, int, bool, int, bytes | None]]:
        sql = self._sql["all_nodes"]
        rows = self._run(lambda c, a: c.execute(sql).fetchall(), "nodes")
        return [(r[0], r[1], bool(r[2]), r[3], None if r[4] is None else bytes(r[4])) for r in rows]

    def _running_owners(self) -> list[tuple[Any, str, int]]:
        sql = self._sql["running_owners"]
        return [(_unpk(k), n, g) for k, n, g in self._run(lambda c, a: c.execute(sql).fetchall(), "nodes")]

    def _orphans(self, statuses: list[str], now_ms: int) -> list[Any]:
        sql = self._sql["orphans"]
        return [_unpk(r[0]) for r in self._run(lambda c, a: c.execute(sql, (statuses,)).fetchall(), "orphans")]

    # -- the cluster: takeover, inbox, change signals (runic.store.cluster)

    #: PostgreSQL pushes change signals (LISTEN/NOTIFY)
    notifies: ClassVar[bool] = True

    def _takeover(self, node: str, generation: int, owner: str, limit: int | None,
                  now_ms: int) -> tuple[list[tuple[str, int]], list[tuple[Any, int]], int, int]:
        sql = self._sql["takeover"]
        rows = self._run(lambda c, a: c.execute(sql, (node, generation, owner, limit)).fetchall(), "takeover")
        dead, claimed, orphans, live = [], [], 0, 0
        for kind, wid, name, num in rows:
            if kind == "dead":
                dead.append((name, int(num)))
            elif kind == "claimed":
                pk = bytes(wid)
                claimed.append((_unpk(pk), int(num)))
                with self._lock:
                    self._owned.add(pk)
                    self._cursors.pop(pk, None)
            elif kind == "live":
                live = int(num)
            elif kind == "orphans":
                orphans = int(num)
        return dead, claimed, orphans, live

    def _inbox_put(self, key: Any, kind: str, blob: bytes, crc: int, now_ms: int) -> int:
        sql, pk = self._sql["inbox_put"], _pk(key)
        return int(self._run(lambda c, a: c.execute(sql, (pk, kind, blob, crc)).fetchone()[0], "inbox_put"))

    def _inbox_pending(self, node: str | None, generation: int | None,
                       key: Any = None) -> list[tuple[Any, int, str, bytes | None, int]]:
        args: tuple[Any, ...]
        if key is not None:
            sql, args = self._sql["inbox_of"], (_pk(key),)
        elif node is None:
            sql, args = self._sql["inbox_all"], ()
        else:
            sql, args = self._sql["inbox_owned"], (node, generation)
        rows = self._run(lambda c, a: c.execute(sql, args).fetchall(), "inbox_pending")
        return [(_unpk(r[0]), r[1], r[2], None if r[3] is None else bytes(r[3]), r[4]) for r in rows]

    def _inbox_ack(self, key: Any, seq: int, error: str | None) -> None:
        sql, pk = self._sql["inbox_ack"], _pk(key)
        self._run(lambda c, a: c.execute(sql, (pk, seq, error, pk, seq)), "inbox_ack")

    def _inbox_state(self, key: Any, seq: int) -> tuple[bool, str | None] | None:
        sql, pk = self._sql["inbox_state"], _pk(key)
        row = self._run(lambda c, a: c.execute(sql, (pk, seq)).fetchone(), "inbox_state")
        return None if row is None else (bool(row[0]), row[1])

    def lease_keeper(self) -> "PostgresStore":
        """A handle with a one-connection pool of its own (``application_name=runic-lease``),
        for the node's heartbeat: a renewal never waits for a pooled connection, nor for a new
        one to be opened while the machine is busy (measured: opening one took over 2 s while
        another node started on the 2-core test machine, long enough to lose a 1 s lease)."""
        self._check_open()
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(self._cluster_args[0])
        params["application_name"] = "runic-lease"
        conninfo, _standby, _size, connect_timeout, failover_timeout, _user = self._cluster_args
        return PostgresStore(self.runner_name, dsn=make_conninfo("", **params), durability=self.durability,
                             schema=self.schema, pool_size=1, connect_timeout=connect_timeout,
                             failover_timeout=failover_timeout)

    def changes(self) -> Changes | None:
        """A ``LISTEN`` on this runner's change signals, over a connection of its own."""
        self._check_open()
        listener = cluster_layout.PgChanges(self._cluster.connect,
                                            cluster_layout.channel(self.schema, self.runner_name), self.where)
        return _KeyedChanges(listener, self)

    # -- administration

    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {self.table_names[role]: (spec[1], spec[2]) for role, spec in layout.ROLES.items()}

    def _table_size(self, name: str) -> int:
        # the event table's size counts events (Mnesia's records), not rows (one per append)
        what = "coalesce(sum(greatest(batch, 1)), 0)" if name == self.table_names["events"] else "count(*)"
        sql = pgsql.SQL("SELECT " + what + " FROM {}.{}").format(pgsql.Identifier(self.schema),
                                                                 pgsql.Identifier(name))
        return int(self._run(lambda c, a: c.execute(sql).fetchone()[0], "table_info"))

    def _drop_tables(self) -> None:
        s = pgsql.Identifier(self.schema)
        names = list(self.table_names.values())
        funcs = [v for k, v in layout.function_names(self.runner_name).items() if k != "epoch_seq"]
        funcs += list(cluster_layout.cluster_functions(self.runner_name).values())
        runner = self.runner_name

        def txn(conn: Any, attempt: int) -> None:
            with conn.transaction():
                for name in names:
                    conn.execute(pgsql.SQL("DROP TABLE IF EXISTS {}.{}").format(s, pgsql.Identifier(name)))
                for fn in funcs:
                    conn.execute(pgsql.SQL("DROP FUNCTION IF EXISTS {}.{}").format(s, pgsql.Identifier(fn)))
                conn.execute(self._q("DELETE FROM {s}.runic_tables WHERE runner = %s"), (runner,))
                # the epoch sequence stays, so epochs handed out later never repeat old ones

        self._run(txn, "drop_tables")
        self._cluster.ensured.discard((self.schema, runner))
        log.info("dropped the tables of runner %r from %s", runner, self.where)

    def _close(self) -> None:
        release_cluster(self._cluster)


class _KeyedChanges:
    """A :class:`~runic.store._pg_cluster.PgChanges` whose signals name workflow ids (decoded
    from the keys the notifications carry)."""

    def __init__(self, listener: Any, store: PostgresStore) -> None:
        self._listener = listener
        self._store = store

    def wait(self, timeout: float) -> list[Change] | None:
        got = self._listener.wait(timeout)
        if got is None:
            return None
        out = []
        for change in got:
            wid = None
            if change.workflow_id is not None:
                try:
                    wid = self._store._unkey(change.workflow_id)
                except Exception:  # noqa: BLE001 - a signal is only a hint: it still wakes the caller
                    wid = None
            out.append(Change(change.kind, wid, change.detail))
        return out

    def close(self) -> None:
        self._listener.close()
